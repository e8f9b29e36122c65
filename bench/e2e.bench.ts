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
 * Every phase stores into `readings` itself, the references too, and starts with it empty, so that all write a
 * table of the same size and history (e2e-references.ts says what the alternatives got wrong).
 * Ours is also measured as the processor alone, draining a backlog pushed straight into the queue (as the BullMQ
 * references start from jobs already in Redis), with its resident memory while it drains.
 * After each phase `VACUUM (ANALYZE)` and `CHECKPOINT` do the cleanup its writes left (measured, reported per
 * phase), so that no phase pays autovacuum or a checkpoint for another's rows.
 * Each round ends with the latency run: a steady `--rate` events/s for `--duration` s through the hub, p50/p99 from
 * event time to the row in PostgreSQL (its `stored_at`, the storing transaction's start); medians reported.
 *
 * Writes bench/results/latest.json. Usage: npm run bench:e2e -- [--quick] [--events N] [--series N] [--rounds N]
 *   [--per-event-events N] [--rate N] [--duration S] [--json]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { PostgresServer, RedisServer, freePort, type ServerProcess } from '@telemetryhub/testkit';
import {
  FLEET_METRICS,
  PER_TASK,
  bullmq,
  copyLimit,
  emptyReadings,
  fleetEvents,
  lpushLimit,
} from './e2e-references.js';
import { startAppProcess, waitReady } from '../scripts/local-pipeline.js';
import { median } from './median.js';
import { backlog, latencyRun, ours } from './e2e-ours.js';
import { machine, processMemoryMiB } from './process-stats.js';
import { walPerEvent, walSoFar } from './pg-wal.js';
import { cleanUp, cleanupCpuMicrosPerEvent } from './pg-cleanup.js';
import { postgresCpu, postgresCpuPerEvent } from './pg-cpu.js';

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
const DEVICES = Math.max(1, Math.round(SERIES / FLEET_METRICS.length));
/**
 * The devices of every phase, ours and the references', the same in every round, as a running fleet's are: only the
 * first phase meets its series for the first time (outlier state, device rows), as bench:processor's first round
 * does.
 */
const FLEET = 'fleet';
const progress = (s: string) => process.stderr.write(`[bench] ${s}\n`);

async function main(): Promise<void> {
  progress(`fleet: ${DEVICES} devices × ${FLEET_METRICS.length} metrics = ${DEVICES * FLEET_METRICS.length} series`);
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
    const processorUrl = `http://127.0.0.1:${processorPort}`;
    await waitReady(processorUrl, processor, 'task-processor', 120_000);
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
      const events = fleetEvents(EVENTS, { series: SERIES, prefix: FLEET });
      progress(`round ${r + 1}/${ROUNDS}: LPUSH and COPY ceilings (${EVENTS} events)`);
      const lpush = await lpushLimit(redis.url, events);
      await emptyReadings(db);
      let wal0 = await walSoFar(db);
      const copy = await copyLimit(db, events); // the rows ours then stores: emptied before it
      const copyWal = walPerEvent(wal0, await walSoFar(db), EVENTS);
      const copyCleanup = await cleanupCpuMicrosPerEvent(db, postgres.pid, EVENTS);
      progress(`round ${r + 1}/${ROUNDS}: ours — HTTP → hub → Redis → processor → PostgreSQL`);
      await emptyReadings(db);
      const { rate: e2e, ...oursCpu } = await ours(db, hubUrl, processorUrl, events, {
        hub: hub.pid,
        processor: processor.pid,
      });
      const e2eCleanup = await cleanupCpuMicrosPerEvent(db, postgres.pid, EVENTS);
      progress(`round ${r + 1}/${ROUNDS}: ours, the processor alone draining a backlog of ${EVENTS} events`);
      await emptyReadings(db);
      wal0 = await walSoFar(db);
      const drained = await backlog(
        db,
        redis.url,
        processorUrl,
        fleetEvents(EVENTS, { series: SERIES, prefix: FLEET }),
        processor.pid,
        postgres.pid,
      );
      const backlogWal = walPerEvent(wal0, await walSoFar(db), EVENTS);
      const backlogCleanup = await cleanupCpuMicrosPerEvent(db, postgres.pid, EVENTS);
      progress(`round ${r + 1}/${ROUNDS}: BullMQ, one job per ${PER_TASK} events, one multi-row INSERT each`);
      await emptyReadings(db);
      wal0 = await walSoFar(db);
      const batchedPgCpu0 = await postgresCpu(db, postgres.pid);
      const { rate: batched, cpuMicros: batchedAppCpuMicros } = await bullmq(
        redis.url,
        db,
        fleetEvents(EVENTS, { series: SERIES, prefix: FLEET }),
        PER_TASK,
        8,
      );
      const batchedPostgres = postgresCpuPerEvent(batchedPgCpu0, await postgresCpu(db, postgres.pid), EVENTS);
      const batchedWal = walPerEvent(wal0, await walSoFar(db), EVENTS);
      const batchedCleanup = await cleanupCpuMicrosPerEvent(db, postgres.pid, EVENTS);
      progress(`round ${r + 1}/${ROUNDS}: BullMQ, one job per event, concurrency 100 (${PER_EVENT_EVENTS} events)`);
      await emptyReadings(db);
      const { rate: single } = await bullmq(
        redis.url,
        db,
        fleetEvents(PER_EVENT_EVENTS, { series: SERIES, prefix: FLEET }),
        1,
        100,
      );
      await cleanUp(db); // not reported: the latency window starts on a clean server
      await emptyReadings(db);
      // In every round, not once: one 30 s window's p99 moved by 2-3× between runs of the same code.
      progress(`round ${r + 1}/${ROUNDS}: latency, a steady ${RATE} events/s for ${DURATION} s through the hub`);
      const latency = await latencyRun(db, hubUrl, processorUrl, {
        rate: RATE,
        seconds: DURATION,
        devices: DEVICES,
        prefix: FLEET,
      });
      await cleanUp(db); // not reported: the next round starts on a clean server
      rounds.push({
        e2e,
        batched,
        single,
        lpush,
        copy,
        processorCpuMicros: oursCpu.processorCpuMicros,
        hubCpuMicros: oursCpu.hubCpuMicros,
        loadCpuMicros: oursCpu.loadCpuMicros,
        batchedAppCpuMicros,
        backlog: drained.rate,
        backlogRssMiB: drained.rssMiB,
        backlogFolds: drained.folds,
        backlogFoldSeconds: drained.foldSeconds,
        backlogCpuMicros: drained.cpuMicros,
        backlogPostgresCpuMicros: drained.postgres.total,
        backlogPostgresClientCpuMicros: drained.postgres.client,
        backlogPostgresBackgroundCpuMicros: drained.postgres.background,
        backlogPostgresRestCpuMicros: drained.postgres.rest,
        batchedPostgresCpuMicros: batchedPostgres.total,
        batchedPostgresClientCpuMicros: batchedPostgres.client,
        batchedPostgresBackgroundCpuMicros: batchedPostgres.background,
        batchedPostgresRestCpuMicros: batchedPostgres.rest,
        copyWalBytes: copyWal.bytes,
        backlogWalBytes: backlogWal.bytes,
        backlogWalFullPages: backlogWal.fullPages,
        batchedWalBytes: batchedWal.bytes,
        batchedWalFullPages: batchedWal.fullPages,
        copyCleanupCpuMicros: copyCleanup,
        e2eCleanupCpuMicros: e2eCleanup,
        backlogCleanupCpuMicros: backlogCleanup,
        batchedCleanupCpuMicros: batchedCleanup,
        p50VisibleMs: latency.p50Ms,
        p99VisibleMs: latency.p99Ms,
        steadyKept: latency.kept,
        steadyRefused: latency.refusedRequests,
      });
      progress(
        `  ours ${Math.round(e2e)}/s (processor alone from a backlog ${Math.round(drained.rate)}/s, ` +
          `RSS ≤ ${Math.round(drained.rssMiB)} MiB, ${drained.folds} folds taking ${drained.foldSeconds.toFixed(1)} s), BullMQ batched ${Math.round(batched)}/s, per event ${Math.round(single)}/s, ` +
          `LPUSH ${Math.round(lpush)}/s, COPY ${Math.round(copy)}/s, hub + processor ${(oursCpu.hubCpuMicros + oursCpu.processorCpuMicros).toFixed(1)} µs CPU/event (BullMQ's producer + worker ${batchedAppCpuMicros.toFixed(1)}), ` +
          `steady p99 ${latency.p99Ms} ms`,
      );
    }
    const med = (k: string) => median(rounds.map((r) => r[k]!));
    const med1 = (k: string) => Number(med(k).toFixed(1));
    const ratio = (a: string, b: string) => median(rounds.map((r) => r[a]! / r[b]!));
    const result = {
      e2e_events_per_s: Math.round(med('e2e')),
      bullmq_events_per_s: Math.round(med('single')),
      bullmq_batched_events_per_s: Math.round(med('batched')),
      redis_lpush_limit_per_s: Math.round(med('lpush')),
      pg_copy_rows_per_s: Math.round(med('copy')),
      // Medians of the rounds' steady phases (each round's in per_round).
      p50_visible_ms: Math.round(med('p50VisibleMs')),
      p99_visible_ms: Math.round(med('p99VisibleMs')),
      steady_rate_kept_events_per_s: Math.round(med('steadyKept')),
      steady_rate_refused_requests: rounds.reduce((n, r) => n + r.steadyRefused!, 0),
      processor_backlog_events_per_s: Math.round(med('backlog')),
      processor_backlog_rss_mib: Math.round(Math.max(...rounds.map((r) => r.backlogRssMiB!))),
      processor_backlog_cpu_us_per_event: med1('backlogCpuMicros'),
      postgres_backlog_cpu_us_per_event: med1('backlogPostgresCpuMicros'),
      postgres_bullmq_batched_cpu_us_per_event: med1('batchedPostgresCpuMicros'),
      // PostgreSQL's CPU split by who spent it (bench/pg-cpu.ts): client backends, the background writers, the rest.
      postgres_cpu_split_us_per_event: {
        processor_backlog: {
          client: med1('backlogPostgresClientCpuMicros'),
          background: med1('backlogPostgresBackgroundCpuMicros'),
          rest: med1('backlogPostgresRestCpuMicros'),
        },
        bullmq_batched: {
          client: med1('batchedPostgresClientCpuMicros'),
          background: med1('batchedPostgresBackgroundCpuMicros'),
          rest: med1('batchedPostgresRestCpuMicros'),
        },
      },
      wal_bytes_per_event: {
        copy: Math.round(med('copyWalBytes')),
        processor_backlog: Math.round(med('backlogWalBytes')),
        bullmq_batched: Math.round(med('batchedWalBytes')),
      },
      // VACUUM (ANALYZE) and CHECKPOINT after each phase (bench/pg-cleanup.ts): PostgreSQL's CPU per event of it.
      postgres_cleanup_cpu_us_per_event: {
        copy: med1('copyCleanupCpuMicros'),
        ours_e2e: med1('e2eCleanupCpuMicros'),
        processor_backlog: med1('backlogCleanupCpuMicros'),
        bullmq_batched: med1('batchedCleanupCpuMicros'),
      },
      wal_full_pages_per_event: {
        processor_backlog: Number(med('backlogWalFullPages').toFixed(3)),
        bullmq_batched: Number(med('batchedWalFullPages').toFixed(3)),
      },
      // End to end, CPU per event outside PostgreSQL and Redis: ours (the hub, the processor) against BullMQ's
      // producer and worker together; the HTTP load generator stands in for the gateways, which run elsewhere.
      processor_cpu_us_per_event: med1('processorCpuMicros'),
      hub_cpu_us_per_event: med1('hubCpuMicros'),
      bullmq_batched_app_cpu_us_per_event: med1('batchedAppCpuMicros'),
      load_generator_cpu_us_per_event: med1('loadCpuMicros'),
      processor_peak_rss_mib: Math.round((await processMemoryMiB(processor.pid)).peak),
      ratios: {
        e2e_vs_bullmq_batched: Number(ratio('e2e', 'batched').toFixed(2)),
        e2e_vs_bullmq_per_event: Number(ratio('e2e', 'single').toFixed(2)),
        e2e_vs_pg_copy: Number(ratio('e2e', 'copy').toFixed(2)),
        processor_backlog_vs_pg_copy: Number(ratio('backlog', 'copy').toFixed(2)),
        processor_backlog_vs_bullmq_batched: Number(ratio('backlog', 'batched').toFixed(2)),
      },
      series: DEVICES * FLEET_METRICS.length,
      events: EVENTS,
      rounds: ROUNDS,
      quick,
      machine: machine(),
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
      `  the processor alone, draining a backlog: ${k(result.processor_backlog_events_per_s)} = ` +
        `${result.ratios.processor_backlog_vs_pg_copy}× COPY (target ≥ 0.6), ` +
        `${result.ratios.processor_backlog_vs_bullmq_batched}× BullMQ batched; RSS ≤ ${result.processor_backlog_rss_mib} MiB (target < 512)`,
    );
    console.log(
      `    CPU per event while draining: processor ${result.processor_backlog_cpu_us_per_event} µs, PostgreSQL ${result.postgres_backlog_cpu_us_per_event} µs (every server process; ${result.postgres_bullmq_batched_cpu_us_per_event} µs under BullMQ batched)`,
    );
    const split = result.postgres_cpu_split_us_per_event;
    const parts = (x: { client: number; background: number; rest: number }) =>
      `client backends ${x.client}, background writers ${x.background}, the rest ${x.rest}`;
    console.log(
      `    PostgreSQL CPU per event by who spent it: ours draining ${parts(split.processor_backlog)}; BullMQ batched ${parts(split.bullmq_batched)}`,
    );
    const clean = result.postgres_cleanup_cpu_us_per_event;
    console.log(
      `    cleanup after each phase (VACUUM (ANALYZE) and CHECKPOINT, PostgreSQL CPU per event): ours ${clean.ours_e2e} µs end to end, ${clean.processor_backlog} µs draining; BullMQ batched ${clean.bullmq_batched} µs; COPY ${clean.copy} µs`,
    );
    const wal = result.wal_bytes_per_event;
    const fpi = result.wal_full_pages_per_event;
    console.log(
      `    write-ahead log per event: ours ${wal.processor_backlog} bytes (${fpi.processor_backlog} full pages), BullMQ batched ${wal.bullmq_batched} (${fpi.bullmq_batched}), COPY ${wal.copy}`,
    );
    console.log(
      `  steady ${RATE} events/s for ${DURATION} s in each round (kept ${k(result.steady_rate_kept_events_per_s)}, ${result.steady_rate_refused_requests} requests refused): visible p50 ${result.p50_visible_ms} ms, p99 ${result.p99_visible_ms} ms (target < 1000; rounds: ${rounds.map((r) => r.p99VisibleMs).join(', ')} ms)`,
    );
    console.log(
      `  CPU per event end to end, outside PostgreSQL and Redis: hub ${result.hub_cpu_us_per_event} µs + processor ${result.processor_cpu_us_per_event} µs, ` +
        `BullMQ batched's producer + worker ${result.bullmq_batched_app_cpu_us_per_event} µs; the HTTP load generator ${result.load_generator_cpu_us_per_event} µs`,
    );
    console.log(`  processor peak RSS ${result.processor_peak_rss_mib} MiB`);
    console.log('  written to bench/results/latest.json');
  } catch (err) {
    // An app that died mid-run is why the bench failed: its last words say why (out of memory, a crash).
    for (const [name, p] of [
      ['task-processor', procs[0]],
      ['hub', procs[1]],
    ] as const) {
      if (p?.hasExited) console.error(`[bench] the ${name} exited during the run; its last output:\n${p.log}`);
    }
    throw err;
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
