/**
 * End to end, as users run it: the real `npm run hub` and `npm run processor` processes (every handler, the
 * latest-value cache, statistics, devices — main.ts's composition), PostgreSQL with its default durability (fsync,
 * synchronous commit), a fleet of `--series` series (devices × 5 metrics) with random event ids. Events go in over
 * HTTP (100 per POST, 32 connections) and count once they are rows in PostgreSQL.
 *
 * Against, in the same run and on the same Redis and PostgreSQL (paired rounds, medians reported):
 * - BullMQ batched: one job per 500 events (`addBulk`), a Worker inserting each job with one multi-row
 *   `INSERT … SELECT FROM unnest … ON CONFLICT DO NOTHING` — the short script a user would otherwise write;
 * - BullMQ per event: one job per event (`addBulk`), a Worker with concurrency 100, one `INSERT … ON CONFLICT DO
 *   NOTHING` each (on `--per-event-events`, fewer: it is an order of magnitude slower);
 * - the ceilings: pipelined `LPUSH` of the same tasks into Redis, and `COPY` of the same rows into PostgreSQL.
 * Then the latency run: a steady `--rate` events/s for `--duration` s through the hub, p50/p99 from event time to
 * the row in PostgreSQL (its `stored_at`, the storing transaction's start).
 *
 * Writes bench/results/latest.json. Usage: npm run bench:e2e -- [--quick] [--events N] [--series N] [--rounds N]
 *   [--per-event-events N] [--rate N] [--duration S] [--json]
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { Queue, Worker } from 'bullmq';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { PostgresServer, RedisServer, freePort, type ServerProcess } from '@telemetryhub/devstack';
import { createRedis, sleep } from '@telemetryhub/common';
import { copyTextRow } from '../apps/task-processor/src/store/copy-text.js';
import { startAppProcess, waitReady } from '../scripts/local-pipeline.js';
import { median } from './median.js';
import { pacedLoad } from './paced-load.js';
import { processCpuSeconds, processMemoryMiB } from './process-stats.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    events: { type: 'string' },
    series: { type: 'string', default: '5000' },
    rounds: { type: 'string' },
    'per-event-events': { type: 'string' },
    rate: { type: 'string', default: '20000' },
    duration: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (values.help) {
  console.log(
    'npm run bench:e2e -- [--quick (a few minutes)] [--events N (300000; quick 60000)] [--series N (5000)]\n' +
      '                     [--rounds N (3; quick 1)] [--per-event-events N (20000; quick 5000)]\n' +
      '                     [--rate EVENTS_PER_S (20000)] [--duration S (30; quick 10)] [--json]',
  );
  process.exit(0);
}
const quick = values.quick;
const EVENTS = Number(values.events ?? (quick ? 60_000 : 300_000));
const SERIES = Number(values.series);
const ROUNDS = Number(values.rounds ?? (quick ? 1 : 3));
const PER_EVENT_EVENTS = Number(values['per-event-events'] ?? (quick ? 5_000 : 20_000));
const RATE = Number(values.rate);
const DURATION = Number(values.duration ?? (quick ? 10 : 30));
const METRICS = ['temperature', 'humidity', 'pressure', 'voltage', 'current'];
const DEVICES = Math.max(1, Math.round(SERIES / METRICS.length));
const PER_POST = 100;
const PER_TASK = 500;
const CONNECTIONS = 32;
const progress = (s: string) => process.stderr.write(`[bench] ${s}\n`);

interface BenchEvent {
  event_id: string;
  device_id: string;
  metric: string;
  event_time: string;
  value: number;
}

/** `n` events of the fleet, random ids, event times spread over the last minutes; devices named by `prefix`. */
function fleetEvents(n: number, prefix: string): BenchEvent[] {
  const base = Date.now() - 10 * 60_000;
  return Array.from({ length: n }, (_, i) => ({
    event_id: randomUUID(),
    device_id: `${prefix}-${i % DEVICES}`,
    metric: METRICS[Math.floor(i / DEVICES) % METRICS.length]!,
    event_time: new Date(base + Math.floor((i * 600_000) / n)).toISOString(),
    value: 20 + (i % 97) / 10,
  }));
}

const chunks = <T>(xs: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(xs.length / size) }, (_, i) => xs.slice(i * size, (i + 1) * size));

async function rowCount(db: pg.Pool, table: string): Promise<number> {
  return Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
}

async function waitForRows(db: pg.Pool, table: string, want: number, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await rowCount(db, table)) < want) {
    if (Date.now() > deadline) throw new Error(`${table}: fewer than ${want} rows after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** A plain table shaped like `readings` (not partitioned), with its key, for the references. */
async function freshTable(db: pg.Pool, name: string): Promise<void> {
  await db.query(`DROP TABLE IF EXISTS ${name}`);
  await db.query(`CREATE TABLE ${name} (LIKE readings INCLUDING DEFAULTS, PRIMARY KEY (event_id, event_time))`);
}

/** Ours: POST every event to the hub (32 connections), until all are rows in `readings`. Events/s. */
async function ours(db: pg.Pool, hubUrl: string, events: BenchEvent[]): Promise<number> {
  const before = await rowCount(db, 'readings');
  const bodies = chunks(events, PER_POST).map((c) => JSON.stringify(c));
  const t0 = performance.now();
  let next = 0;
  const client = async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      for (;;) {
        const res = await fetch(`${hubUrl}/v1/telemetry`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        await res.arrayBuffer();
        if (res.status === 202) break;
        await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000); // backpressure: resend
      }
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, client));
  await waitForRows(db, 'readings', before + events.length);
  return events.length / ((performance.now() - t0) / 1000);
}

/** BullMQ, one job per `perJob` events; the worker stores each job with one statement. Events/s. */
async function bullmq(
  redisUrl: string,
  db: pg.Pool,
  events: BenchEvent[],
  perJob: number,
  concurrency: number,
): Promise<number> {
  const table = perJob === 1 ? 'bench_bullmq_single' : 'bench_bullmq_batched';
  await freshTable(db, table);
  const name = `bench-${table}-${randomUUID().slice(0, 8)}`;
  // As a BullMQ user writes it: connection options, BullMQ makes its own clients (blocking ones included).
  const { hostname, port } = new URL(redisUrl);
  const connection = { host: hostname, port: Number(port), maxRetriesPerRequest: null };
  const queue = new Queue(name, { connection });
  const jobs = chunks(events, perJob);
  let done = 0;
  let finished!: () => void;
  const allDone = new Promise<void>((resolve) => (finished = resolve));
  const worker = new Worker(
    name,
    async (job) => {
      const es = job.data.events as BenchEvent[];
      await db.query(
        `INSERT INTO ${table} (event_id, device_id, metric, event_time, value, schema_version)
         SELECT e, d, m, t, v, 3 FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::float8[])
                AS u (e, d, m, t, v)
         ON CONFLICT DO NOTHING`,
        [
          es.map((e) => e.event_id),
          es.map((e) => e.device_id),
          es.map((e) => e.metric),
          es.map((e) => e.event_time),
          es.map((e) => e.value),
        ],
      );
    },
    { connection, concurrency, autorun: false },
  );
  worker.on('completed', () => {
    if (++done === jobs.length) finished();
  });
  worker.on('failed', (_job, err) => progress(`bullmq job failed: ${err.message}`));
  const t0 = performance.now();
  void worker.run();
  for (const part of chunks(jobs, 1000)) {
    await queue.addBulk(part.map((es) => ({ name: 'e', data: { events: es }, opts: { removeOnComplete: true } })));
  }
  await allDone;
  const rate = events.length / ((performance.now() - t0) / 1000);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  if ((await rowCount(db, table)) !== events.length) throw new Error(`${table}: rows missing`);
  return rate;
}

/** The transport's ceiling: the same events as task JSON (500 per task), pipelined LPUSH. Events/s. */
async function lpushLimit(redisUrl: string, events: BenchEvent[]): Promise<number> {
  const redis = createRedis(redisUrl, { commandTimeoutMs: 60_000 });
  const tasks = chunks(events, PER_TASK).map((readings) =>
    JSON.stringify({ id: randomUUID(), type: 'telemetry.analyze', priority: 50, payload: { readings } }),
  );
  const t0 = performance.now();
  for (const part of chunks(tasks, 100)) {
    const p = redis.pipeline();
    for (const t of part) p.lpush('bench-lpush', t);
    await p.exec();
  }
  const rate = events.length / ((performance.now() - t0) / 1000);
  await redis.del('bench-lpush');
  redis.disconnect();
  return rate;
}

/** The database's ceiling: COPY of the same rows into a plain table shaped like `readings`. Rows/s. */
async function copyLimit(db: pg.Pool, events: BenchEvent[]): Promise<number> {
  await freshTable(db, 'bench_copy');
  const client = await db.connect();
  try {
    const lines = function* () {
      for (const part of chunks(events, 1000)) {
        yield part
          .map((e) =>
            copyTextRow([
              e.event_id,
              e.device_id,
              e.metric,
              e.event_time,
              e.value,
              null,
              null,
              null,
              null,
              3,
              null,
              'b',
            ]),
          )
          .join('');
      }
    };
    const t0 = performance.now();
    await pipeline(
      Readable.from(lines()),
      client.query(
        copyFrom(
          'COPY bench_copy (event_id, device_id, metric, event_time, value, unit, site, region, firmware, schema_version, sequence_id, task_id) FROM STDIN',
        ),
      ),
    );
    return events.length / ((performance.now() - t0) / 1000);
  } finally {
    client.release();
  }
}

/** A steady `RATE` through the hub for `DURATION` s: latency from event time to the row (stored_at). */
async function latencyRun(db: pg.Pool, hubUrl: string): Promise<{ p50Ms: number; p99Ms: number; kept: number }> {
  let n = 0;
  const body = () => {
    const now = new Date().toISOString();
    return JSON.stringify(
      Array.from({ length: PER_POST }, () => {
        const i = n++;
        return {
          event_id: randomUUID(),
          device_id: `lat-${i % DEVICES}`,
          metric: METRICS[Math.floor(i / DEVICES) % METRICS.length],
          event_time: now,
          value: 21,
        };
      }),
    );
  };
  const before = await rowCount(db, 'readings');
  const load = await pacedLoad(`${hubUrl}/v1/telemetry`, body, RATE / PER_POST, DURATION, 256);
  await waitForRows(db, 'readings', before + n);
  const { rows } = await db.query<{ p50: number; p99: number }>(
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99
       FROM (SELECT extract(epoch FROM stored_at - event_time) * 1000 AS ms FROM readings WHERE device_id LIKE 'lat-%') s`,
  );
  return { p50Ms: Math.round(rows[0]!.p50), p99Ms: Math.round(rows[0]!.p99), kept: load.requestsPerSecond * PER_POST };
}

async function main(): Promise<void> {
  progress(`fleet: ${DEVICES} devices × ${METRICS.length} metrics = ${DEVICES * METRICS.length} series`);
  progress('starting a throwaway redis-server and a durable PostgreSQL (fsync and synchronous commit on)');
  const redis = await RedisServer.start({ extraArgs: ['--maxmemory', '0'] });
  const postgres = await PostgresServer.start({ durable: true });
  const db = new pg.Pool({ connectionString: postgres.url, max: 12 });
  db.on('error', () => {}); // idle clients are cut off when the throwaway server stops: expected here
  const procs: ServerProcess[] = [];
  try {
    const processorPort = await freePort();
    const hubPort = await freePort();
    const processor = startAppProcess('task-processor', {
      ...process.env,
      DATABASE_URL: postgres.url,
      REDIS_URL: redis.url,
      PROCESSOR_PORT: String(processorPort),
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
    });
    procs.push(processor);
    await waitReady(`http://127.0.0.1:${processorPort}`, processor, 'task-processor', 120_000);
    const hub = startAppProcess('hub', {
      ...process.env,
      REDIS_URL: redis.url,
      HUB_PORT: String(hubPort),
      SIM_DEVICES: '0',
      SPOOL_DIR: 'off',
      BUFFER_CAPACITY: '1000000',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
    });
    procs.push(hub);
    const hubUrl = `http://127.0.0.1:${hubPort}`;
    await waitReady(hubUrl, hub, 'hub', 60_000);

    const rounds: Array<Record<string, number>> = [];
    for (let r = 0; r < ROUNDS; r++) {
      const events = fleetEvents(EVENTS, `r${r}`);
      progress(`round ${r + 1}/${ROUNDS}: LPUSH and COPY ceilings (${EVENTS} events)`);
      const lpush = await lpushLimit(redis.url, events);
      const copy = await copyLimit(db, events);
      progress(`round ${r + 1}/${ROUNDS}: ours — HTTP → hub → Redis → processor → PostgreSQL`);
      const cpuBefore = await processCpuSeconds(processor.pid);
      const e2e = await ours(db, hubUrl, events);
      const processorCpuMicros = ((await processCpuSeconds(processor.pid)) - cpuBefore) / EVENTS / 1e-6;
      progress(`round ${r + 1}/${ROUNDS}: BullMQ, one job per ${PER_TASK} events, one multi-row INSERT each`);
      const batched = await bullmq(redis.url, db, fleetEvents(EVENTS, `b${r}`), PER_TASK, 8);
      progress(`round ${r + 1}/${ROUNDS}: BullMQ, one job per event, concurrency 100 (${PER_EVENT_EVENTS} events)`);
      const single = await bullmq(redis.url, db, fleetEvents(PER_EVENT_EVENTS, `s${r}`), 1, 100);
      rounds.push({ e2e, batched, single, lpush, copy, processorCpuMicros });
      progress(
        `  ours ${Math.round(e2e)}/s, BullMQ batched ${Math.round(batched)}/s, per event ${Math.round(single)}/s, ` +
          `LPUSH ${Math.round(lpush)}/s, COPY ${Math.round(copy)}/s, processor ${processorCpuMicros.toFixed(1)} µs CPU/event`,
      );
    }
    progress(`latency: a steady ${RATE} events/s for ${DURATION} s through the hub`);
    const latency = await latencyRun(db, hubUrl);
    const med = (k: string) => median(rounds.map((r) => r[k]!));
    const ratio = (a: string, b: string) => median(rounds.map((r) => r[a]! / r[b]!));
    const result = {
      e2e_events_per_s: Math.round(med('e2e')),
      bullmq_events_per_s: Math.round(med('single')),
      bullmq_batched_events_per_s: Math.round(med('batched')),
      redis_lpush_limit_per_s: Math.round(med('lpush')),
      pg_copy_rows_per_s: Math.round(med('copy')),
      p50_visible_ms: latency.p50Ms,
      p99_visible_ms: latency.p99Ms,
      steady_rate_kept_events_per_s: Math.round(latency.kept),
      processor_cpu_us_per_event: Number(med('processorCpuMicros').toFixed(1)),
      processor_peak_rss_mib: Math.round((await processMemoryMiB(processor.pid)).peak),
      ratios: {
        e2e_vs_bullmq_batched: Number(ratio('e2e', 'batched').toFixed(2)),
        e2e_vs_bullmq_per_event: Number(ratio('e2e', 'single').toFixed(2)),
        e2e_vs_pg_copy: Number(ratio('e2e', 'copy').toFixed(2)),
      },
      series: DEVICES * METRICS.length,
      events: EVENTS,
      rounds: ROUNDS,
      quick,
      machine: {
        cpus: cpus().length,
        cpu_model: cpus()[0]?.model ?? 'unknown',
        memory_gib: Math.round(totalmem() / 2 ** 30),
        node: process.version,
        date: new Date().toISOString(),
      },
      per_round: rounds,
    };
    await mkdir(new URL('./results/', import.meta.url), { recursive: true });
    await writeFile(new URL('./results/latest.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
    if (values.json) {
      console.log(JSON.stringify(result, null, 2));
      return;
    }
    const k = (n: number) => `${(n / 1000).toFixed(1)}k/s`;
    console.log(`\nEnd to end, ${result.series} series, ${EVENTS} events, median of ${ROUNDS} paired round(s)\n`);
    console.log(`  ours: HTTP → hub → Redis → processor (every handler) → PostgreSQL  ${k(result.e2e_events_per_s)}`);
    console.log(
      `  BullMQ batched (500 events a job, one INSERT … unnest each)         ${k(result.bullmq_batched_events_per_s)}`,
    );
    console.log(
      `  BullMQ one job per event (concurrency 100)                         ${k(result.bullmq_events_per_s)}`,
    );
    console.log(
      `  ceilings: pipelined LPUSH ${k(result.redis_lpush_limit_per_s)}, PostgreSQL COPY ${k(result.pg_copy_rows_per_s)}`,
    );
    console.log(
      `  = ${result.ratios.e2e_vs_bullmq_batched}× BullMQ batched (target ≥ 1.2), ${result.ratios.e2e_vs_bullmq_per_event}× per event (target ≥ 10), ` +
        `${result.ratios.e2e_vs_pg_copy}× COPY`,
    );
    console.log(
      `  steady ${RATE} events/s (kept ${k(result.steady_rate_kept_events_per_s)}): visible p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms (target < 1000)`,
    );
    console.log(
      `  processor ${result.processor_cpu_us_per_event} µs CPU per event, peak RSS ${result.processor_peak_rss_mib} MiB`,
    );
    console.log('  written to bench/results/latest.json');
  } finally {
    for (const p of procs) await p.stop('SIGTERM', 30_000);
    await db.end();
    await postgres.stop();
    await redis.stop();
  }
}

main().catch((err) => {
  console.error('[bench] failed:', err);
  process.exit(1);
});
