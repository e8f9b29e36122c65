/**
 * What tracing costs: the real hub and processor at a steady load through HTTP, with tracing off (no OTLP endpoint,
 * as by default), on (every span exported over OTLP/HTTP to a receiver in this process) and sampled (1 % of
 * traces, `OTEL_TRACES_SAMPLER=parentbased_traceidratio`, as a busy deployment would run it), in rounds whose
 * order rotates. Reports each process's CPU per event and the event-to-row latency of each mode. Writes
 * bench/results/tracing-latest.json. Usage: npm run bench:tracing -- [--quick] [--rate N] [--duration S] [--rounds N]
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { OtlpReceiver, PostgresServer, RedisServer, freePort, type ServerProcess } from '@telemetryhub/testkit';
import { startAppProcess, waitReady } from '../scripts/local-pipeline.js';
import { median } from './median.js';
import { pacedLoad } from './paced-load.js';
import { liveBodies, rowCount } from './e2e-references.js';
import { expectRows, storedSoFar, waitForStored } from './stored-rows.js';
import { machine, processCpuSeconds } from './process-stats.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rate: { type: 'string', default: '10000' },
    duration: { type: 'string' },
    rounds: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(
    'npm run bench:tracing -- [--quick] [--rate EVENTS_PER_S (10000)] [--duration S (20; quick 8)] [--rounds N (3; quick 1)] [--json]',
  );
  process.exit(0);
}
const RATE = Number(values.rate);
const DURATION = Number(values.duration ?? (values.quick ? 8 : 20));
const ROUNDS = Number(values.rounds ?? (values.quick ? 1 : 3));
const PER_POST = 100;
const DEVICES = 1000;
const progress = (s: string) => process.stderr.write(`[bench] ${s}\n`);

type Mode = 'off' | 'on' | 'sampled';
const MODES: readonly Mode[] = ['off', 'on', 'sampled'];
interface Run {
  mode: Mode;
  hubCpuMicros: number;
  processorCpuMicros: number;
  p50Ms: number;
  p99Ms: number;
  spans: number;
}

/** One mode: a fresh hub and processor, a steady load, CPU per event of each, latency from event time to row. */
async function measure(mode: Mode, redisUrl: string, postgres: PostgresServer, db: pg.Pool, receiver: OtlpReceiver) {
  const tracing = {
    off: {},
    on: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
    sampled: {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.01',
    },
  }[mode];
  const base = { ...process.env, REDIS_URL: redisUrl, LOG_LEVEL: 'warn', NODE_ENV: 'production', ...tracing };
  const [processorPort, hubPort] = [await freePort(), await freePort()];
  const procs: ServerProcess[] = [];
  try {
    procs.push(
      startAppProcess('task-processor', { ...base, DATABASE_URL: postgres.url, PROCESSOR_PORT: String(processorPort) }),
    );
    procs.push(startAppProcess('hub', { ...base, HUB_PORT: String(hubPort), SIM_DEVICES: '0', SPOOL_DIR: 'off' }));
    const [processor, hub] = procs as [ServerProcess, ServerProcess];
    await waitReady(`http://127.0.0.1:${processorPort}`, processor, 'task-processor', 120_000);
    await waitReady(`http://127.0.0.1:${hubPort}`, hub, 'hub', 60_000);
    const prefix = randomUUID().slice(0, 8);
    const { body, made } = liveBodies(prefix, DEVICES, PER_POST);
    const processorUrl = `http://127.0.0.1:${processorPort}`;
    const before = await rowCount(db, 'readings');
    const storedBefore = await storedSoFar([processorUrl]);
    const spansBefore = receiver.spans.length;
    const [hubCpu0, processorCpu0] = [await processCpuSeconds(hub.pid), await processCpuSeconds(processor.pid)];
    const load = await pacedLoad(`http://127.0.0.1:${hubPort}/v1/telemetry`, body, RATE / PER_POST, DURATION, 64);
    const owed = made() - (load.non2xx + load.errors) * PER_POST;
    await waitForStored([processorUrl], storedBefore + owed);
    await expectRows(db, before + owed);
    const perEvent = (s: number) => (s * 1e6) / owed;
    const hubCpuMicros = perEvent((await processCpuSeconds(hub.pid)) - hubCpu0);
    const processorCpuMicros = perEvent((await processCpuSeconds(processor.pid)) - processorCpu0);
    const { rows } = await db.query<{ p50: number; p99: number }>(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99
         FROM (SELECT extract(epoch FROM stored_at - event_time) * 1000 AS ms FROM readings WHERE device_id LIKE $1) s`,
      [`${prefix}-%`],
    );
    // Stopping flushes the last spans (the shutdown step), so the count is whole.
    for (const p of procs.splice(0)) await p.stop('SIGTERM', 30_000);
    return {
      mode,
      hubCpuMicros,
      processorCpuMicros,
      p50Ms: Math.round(rows[0]!.p50),
      p99Ms: Math.round(rows[0]!.p99),
      spans: receiver.spans.length - spansBefore,
    } satisfies Run;
  } finally {
    for (const p of procs) await p.stop('SIGTERM', 30_000);
  }
}

async function main(): Promise<void> {
  progress('starting a throwaway redis-server, a durable PostgreSQL and an OTLP/HTTP receiver');
  const redis = await RedisServer.start({ extraArgs: ['--maxmemory', '0'] });
  const postgres = await PostgresServer.start({ durable: true });
  const receiver = await OtlpReceiver.start();
  const db = new pg.Pool({ connectionString: postgres.url, max: 4 });
  db.on('error', () => {}); // idle clients are cut off when the throwaway server stops: expected here
  const runs: Run[] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      // Rotating order, so no mode always runs on the warmer (or the more crowded) database.
      for (const mode of [...MODES.slice(r % MODES.length), ...MODES.slice(0, r % MODES.length)]) {
        progress(`round ${r + 1}/${ROUNDS}: tracing ${mode}, ${RATE} events/s for ${DURATION} s`);
        const run = await measure(mode, redis.url, postgres, db, receiver);
        progress(
          `  hub ${run.hubCpuMicros.toFixed(1)} µs/event, processor ${run.processorCpuMicros.toFixed(1)} µs/event, ` +
            `visible p50 ${run.p50Ms} ms p99 ${run.p99Ms} ms, ${run.spans} spans exported`,
        );
        runs.push(run);
      }
    }
    const of = (mode: Mode, k: 'hubCpuMicros' | 'processorCpuMicros' | 'p50Ms' | 'p99Ms' | 'spans') =>
      median(runs.filter((x) => x.mode === mode).map((x) => x[k]));
    const summary = (mode: Mode) => ({
      hub_cpu_us_per_event: Number(of(mode, 'hubCpuMicros').toFixed(1)),
      processor_cpu_us_per_event: Number(of(mode, 'processorCpuMicros').toFixed(1)),
      p50_visible_ms: of(mode, 'p50Ms'),
      p99_visible_ms: of(mode, 'p99Ms'),
      spans_exported: of(mode, 'spans'),
    });
    const result = {
      rate_events_per_s: RATE,
      duration_s: DURATION,
      rounds: ROUNDS,
      off: summary('off'),
      on: summary('on'),
      sampled: summary('sampled'),
      ratios_vs_off: Object.fromEntries(
        (['on', 'sampled'] as const).map((mode) => [
          mode,
          {
            hub_cpu: Number((of(mode, 'hubCpuMicros') / of('off', 'hubCpuMicros')).toFixed(2)),
            processor_cpu: Number((of(mode, 'processorCpuMicros') / of('off', 'processorCpuMicros')).toFixed(2)),
          },
        ]),
      ) as Record<'on' | 'sampled', { hub_cpu: number; processor_cpu: number }>,
      receiver_errors: receiver.errors.length,
      machine: machine(),
      runs,
    };
    await mkdir(new URL('./results/', import.meta.url), { recursive: true });
    await writeFile(new URL('./results/tracing-latest.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
    if (values.json) {
      console.log(JSON.stringify(result, null, 2));
      return;
    }
    console.log(
      `\nTracing off, on and sampled (1 %), ${RATE} events/s through the hub for ${DURATION} s, median of ${ROUNDS} round(s)\n`,
    );
    for (const mode of MODES) {
      const s = result[mode];
      console.log(
        `  tracing ${mode.padEnd(7)}  hub ${s.hub_cpu_us_per_event} µs/event, processor ${s.processor_cpu_us_per_event} µs/event, ` +
          `visible p50 ${s.p50_visible_ms} ms p99 ${s.p99_visible_ms} ms, ${s.spans_exported} spans`,
      );
    }
    for (const mode of ['on', 'sampled'] as const) {
      const r = result.ratios_vs_off[mode];
      console.log(`  ${mode} ÷ off: hub CPU ${r.hub_cpu}×, processor CPU ${r.processor_cpu}×`);
    }
    console.log('  written to bench/results/tracing-latest.json');
  } finally {
    await db.end();
    await receiver.stop();
    await postgres.stop();
    await redis.stop();
  }
}

main().catch((err) => {
  console.error('[bench] failed:', err);
  process.exit(1);
});
