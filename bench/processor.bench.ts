/**
 * Processor benchmark: drain a pre-filled queue into PostgreSQL with every step on (telemetry.analyze: store,
 * rollups, alerts), and compare with PostgreSQL's own COPY of the same rows into a table of the same shape,
 * measured on the same server in the same run. PostgreSQL keeps its default durability unless --fast-postgres.
 * Usage: npm run bench:processor -- [--events N] [--json]
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pino } from 'pino';
import { sleep } from '@telemetryhub/service-kit';
import { toColumns, type Reading, type TaskEnvelope } from '@telemetryhub/schemas';
import { RedisListProducer, queueDepths } from '@telemetryhub/queue';
import { copyTextRow } from '../apps/task-processor/src/store/copy-text.js';
import { DEFAULT_CONSUMER_CONCURRENCY } from '../apps/task-processor/src/config.js';
import { DEFAULT_SERIES, benchReading, createBenchProcessor, startBenchStack } from './processor-harness.js';
import { defaultDecodeThreads } from '../apps/task-processor/src/decode/decode-pool.js';
import { median } from './median.js';
import { sealBuckets } from '../apps/task-processor/src/store/rollup-sealer.js';
import { HOUR_MS } from '../apps/task-processor/src/store/rollup-seal.repo.js';
import { PartitionManager } from '../apps/task-processor/src/store/partitions.js';
import { processTreeCpuSeconds } from './process-stats.js';
import { walPerEvent, walSoFar } from './pg-wal.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '200000' },
    series: { type: 'string', default: String(DEFAULT_SERIES) },
    'per-task': { type: 'string', default: '500' },
    json: { type: 'boolean', default: false },
    loops: { type: 'string', default: String(DEFAULT_CONSUMER_CONCURRENCY) },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: String(defaultDecodeThreads()) },
    fetch: { type: 'string', default: '100' }, // FETCH_BATCH_SIZE's default
    'fold-interval': { type: 'string' },
    'fold-max-delay': { type: 'string' },
    'fold-max-readings': { type: 'string' },
    'fold-readings-per-row': { type: 'string' },
    type: { type: 'string', default: 'telemetry.analyze' },
    'fast-postgres': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(
    `npm run bench:processor -- [--events N (200000)] [--series N (5000: devices × 5 metrics)] [--per-task N (500)] [--loops N (as CONSUMER_CONCURRENCY: ${DEFAULT_CONSUMER_CONCURRENCY})] [--rounds N (3): COPY then drain, paired; medians reported] [--threads N (as WORKER_THREADS: 0 up to 2 cores, else one per core; 0 = decode on the main thread)] [--type T (telemetry.analyze: store + rollups + alerts; telemetry.store: storage only)] [--fetch N tasks per fetch (100, as FETCH_BATCH_SIZE)] [--fold-interval MS (as FOLD_INTERVAL_MS)] [--fold-max-delay MS (as FOLD_MAX_DELAY_MS)] [--fold-max-readings N (as FOLD_MAX_READINGS)] [--fold-readings-per-row N (as FOLD_READINGS_PER_ROW)] [--fast-postgres (fsync, synchronous commit and full-page writes off, as the tests run it; default: durable, as users run it)] [--json]`,
  );
  process.exit(0);
}
const N = Number(values.events);
const SERIES = Number(values.series);
const PER_TASK = Number(values['per-task']);
const LOOPS = Number(values.loops);
const ROUNDS = Number(values.rounds);
const THREADS = Number(values.threads);
const progress = (s: string) => process.stderr.write(`[bench] ${s}\n`);
// 'error': the pool's idle clients are cut off when the throwaway server stops, which is expected here.
const log = pino({ level: 'error' });

/**
 * Round `r`'s readings: random event ids, each series once a second, an hour later than the previous round's — all
 * within the last day (inside the expiry horizon, never in the future), as a live fleet's are.
 */
const FIRST_ROUND_MS = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 24 * HOUR_MS;
const roundStart = (r: number) => FIRST_ROUND_MS + r * HOUR_MS;
function readings(r: number): Reading[] {
  const base = roundStart(r);
  return Array.from({ length: N }, (_, i) => benchReading(r * N + i, base + Math.floor(i / SERIES) * 1000, SERIES));
}

/** Seconds one COPY of `rows` takes into a fresh table shaped like `readings` (dropped afterwards). */
async function copySeconds(url: string, rows: Reading[]): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE TABLE readings_copy (LIKE readings INCLUDING ALL)`);
    // A thousand rows per write, as the processor writes them: a write per row costs the client a system call
    // per row and made the reference slower than PostgreSQL is.
    const lines = function* () {
      for (let i = 0; i < rows.length; i += 1000) {
        let chunk = '';
        for (const r of rows.slice(i, i + 1000)) {
          chunk += copyTextRow([
            r.event_id,
            r.device_id,
            r.metric,
            r.event_time,
            r.value,
            r.unit,
            r.site,
            r.region,
            r.firmware,
            r.schema_version,
            r.sequence_id,
            'bench',
          ]);
        }
        yield chunk;
      }
    };
    const t0 = performance.now();
    await pipeline(
      Readable.from(lines()),
      client.query(
        copyFrom(
          `COPY readings_copy (event_id, device_id, metric, event_time, value, unit, site, region, firmware, schema_version, sequence_id, task_id) FROM STDIN`,
        ),
      ),
    );
    const seconds = (performance.now() - t0) / 1000;
    await client.query('DROP TABLE readings_copy');
    return seconds;
  } finally {
    await client.end();
  }
}

interface Round {
  copy_rows_per_second: number;
  processor_events_per_second: number;
  ratio_to_copy: number;
  processor_cpu_us_per_event: number;
  /** PostgreSQL's processes (every backend, the WAL writer, checkpointer, …) while draining. */
  postgres_cpu_us_per_event: number;
  copy_wal_bytes_per_row: number;
  wal_bytes_per_event: number;
  /** Full-page images per event: with durable PostgreSQL, a random key's index page written whole after a checkpoint. */
  wal_full_pages_per_event: number;
  /** Sealing the round's minutes from raw and its hour from minute rows, at the end of the drain (inside its time). */
  seal_seconds: number;
}

async function main(): Promise<void> {
  progress('starting throwaway Redis and PostgreSQL');
  const env = await startBenchStack(log, { fastPostgres: values['fast-postgres'] });
  const { stack, pool, redis } = env;
  try {
    // Started (threads up, modules loaded) before anything is timed, as in a running processor.
    const { consumers, fold } = await createBenchProcessor(env, {
      queue: 'bench',
      loops: LOOPS,
      threads: THREADS,
      fetch: Number(values.fetch),
      // Checked by the processor's own configuration (a ConfigError naming the variable), as in production.
      settings: {
        ...(values['fold-interval'] ? { FOLD_INTERVAL_MS: values['fold-interval'] } : {}),
        ...(values['fold-max-delay'] ? { FOLD_MAX_DELAY_MS: values['fold-max-delay'] } : {}),
        ...(values['fold-max-readings'] ? { FOLD_MAX_READINGS: values['fold-max-readings'] } : {}),
        ...(values['fold-readings-per-row'] ? { FOLD_READINGS_PER_ROW: values['fold-readings-per-row'] } : {}),
      },
      log,
    });
    const producer = new RedisListProducer(redis, 'bench');
    const partitions = new PartitionManager(pool);
    // Paired rounds: each COPY reference right before the drain it is compared with, so a noisy neighbour
    // slows both sides of a ratio (one COPY alone swung 65–133k rows/s between runs on a shared machine).
    const rounds: Round[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const rows = readings(r);
      progress(`round ${r + 1}/${ROUNDS}: COPY of ${N} rows (the reference)`);
      const copyWal0 = await walSoFar(pool);
      const copy = await copySeconds(stack.postgres.url, rows);
      const copyWal = walPerEvent(copyWal0, await walSoFar(pool), N);

      progress(`round ${r + 1}/${ROUNDS}: enqueuing ${N} readings as ${values.type} tasks of ${PER_TASK}`);
      // Each round stores into empty raw and rollup tables, as the COPY reference writes into an empty table; the
      // fleet's own state (outlier statistics, alerts, devices) is kept, as a running processor finds it: the
      // first round meets every series for the first time, later rounds find them known.
      await pool.query('TRUNCATE readings, rollups_1m, rollups_1h, alert_notifications');
      // The round's minutes and hour are open, as a live fleet's current ones are: its minutes are sealed from the
      // raw rows, its hour from the minute rows.
      await pool.query(`UPDATE rollup_seals SET sealed_before = $1`, [new Date(roundStart(r)).toISOString()]);
      const tasks: TaskEnvelope[] = [];
      for (let i = 0; i < N; i += PER_TASK) {
        tasks.push({
          id: `task-${r}-${i}`,
          type: values.type,
          priority: 50,
          created_at: new Date().toISOString(),
          attempts: 0,
          payload: toColumns(rows.slice(i, i + PER_TASK)),
        });
      }
      for (let i = 0; i < tasks.length; i += 20) await producer.enqueue(tasks.slice(i, i + 20));

      progress(`round ${r + 1}/${ROUNDS}: draining (${LOOPS} consumer loops, ${THREADS} decode threads)`);
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      const pgCpu0 = await processTreeCpuSeconds(stack.postgres.pid);
      const wal0 = await walSoFar(pool);
      consumers.start();
      for (;;) {
        const d = await queueDepths(redis, 'bench');
        if (d.pending === 0 && d.processing === 0) break;
        await sleep(50);
      }
      // Drained means stored and folded: what is still gathered for the fold is folded now, inside the timing —
      // left to the fold's timer, a run shorter than FOLD_INTERVAL_MS would not pay for its rollups at all.
      await fold.flush();
      // And its minutes sealed from the raw rows and its hour from the minute rows, as the processor does once each
      // is over: paid here in full for a round's readings (a live hour's seal is shared by an hour of readings).
      const sealed = performance.now();
      await sealBuckets(pool, partitions, '1m', roundStart(r) + HOUR_MS, 60);
      await sealBuckets(pool, partitions, '1h', roundStart(r) + HOUR_MS, 1);
      const seal = (performance.now() - sealed) / 1000;
      const drain = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const pgCpu = (await processTreeCpuSeconds(stack.postgres.pid)) - pgCpu0;
      const wal = walPerEvent(wal0, await walSoFar(pool), N);
      await consumers.stop();
      const { rows: counted } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM readings');
      if (Number(counted[0]!.n) !== N) throw new Error(`expected ${N} rows, found ${counted[0]!.n}`);
      rounds.push({
        copy_rows_per_second: N / copy,
        processor_events_per_second: N / drain,
        ratio_to_copy: copy / drain,
        // All of this process's threads while draining (the queue polling above is a small part of it).
        processor_cpu_us_per_event: (cpu.user + cpu.system) / N,
        postgres_cpu_us_per_event: (pgCpu * 1e6) / N,
        copy_wal_bytes_per_row: copyWal.bytes,
        wal_bytes_per_event: wal.bytes,
        wal_full_pages_per_event: wal.fullPages,
        seal_seconds: seal,
      });
    }

    const result = {
      events: N,
      rounds: rounds.length,
      copy_rows_per_second: median(rounds.map((x) => x.copy_rows_per_second)),
      processor_events_per_second: median(rounds.map((x) => x.processor_events_per_second)),
      ratio_to_copy: median(rounds.map((x) => x.ratio_to_copy)),
      processor_cpu_us_per_event: median(rounds.map((x) => x.processor_cpu_us_per_event)),
      postgres_cpu_us_per_event: median(rounds.map((x) => x.postgres_cpu_us_per_event)),
      copy_wal_bytes_per_row: median(rounds.map((x) => x.copy_wal_bytes_per_row)),
      wal_bytes_per_event: median(rounds.map((x) => x.wal_bytes_per_event)),
      wal_full_pages_per_event: median(rounds.map((x) => x.wal_full_pages_per_event)),
      seal_seconds: median(rounds.map((x) => x.seal_seconds)),
      durable_postgres: !values['fast-postgres'],
      each: rounds,
    };
    if (values.json) console.log(JSON.stringify(result, null, 2));
    else {
      const k = (x: number) => `${Math.round(x / 1000)}k`;
      console.log(
        `\nProcessor drain, ${N} readings in tasks of ${PER_TASK} (${values.type}), ${LOOPS} consumer loop(s), ${THREADS} decode thread(s), ${ROUNDS} paired rounds, ${SERIES} series, fold looking every ${values['fold-interval'] ?? 'FOLD_INTERVAL_MS (default)'} ms, waiting up to ${values['fold-max-delay'] ?? 'FOLD_MAX_DELAY_MS (default)'} ms, holding at most ${values['fold-max-readings'] ?? 'FOLD_MAX_READINGS (default)'} readings, ${values['fold-readings-per-row'] ?? 'FOLD_READINGS_PER_ROW (default)'} readings per row, PostgreSQL ${values['fast-postgres'] ? 'with fsync, synchronous commit and full-page writes off' : 'durable (its defaults)'}\n`,
      );
      console.log(
        `${'PostgreSQL COPY into a table of the same shape'.padEnd(52)} ${Math.round(result.copy_rows_per_second).toString().padStart(8)} rows/s (median; each: ${rounds.map((x) => k(x.copy_rows_per_second)).join(', ')})`,
      );
      console.log(
        `${'task-processor (fetch → validate → insert → fold → ack)'.padEnd(52)} ${Math.round(result.processor_events_per_second).toString().padStart(8)} events/s (median; each: ${rounds.map((x) => k(x.processor_events_per_second)).join(', ')})`,
      );
      console.log(
        `${'task-processor CPU (main + worker threads)'.padEnd(52)} ${result.processor_cpu_us_per_event.toFixed(1).padStart(8)} µs/event`,
      );
      console.log(
        `${'PostgreSQL CPU (every server process) while draining'.padEnd(52)} ${result.postgres_cpu_us_per_event.toFixed(1).padStart(8)} µs/event`,
      );
      console.log(
        `${'write-ahead log per event: processor / COPY'.padEnd(52)} ${Math.round(result.wal_bytes_per_event).toString().padStart(8)} / ${Math.round(result.copy_wal_bytes_per_row)} bytes (${result.wal_full_pages_per_event.toFixed(2)} full-page images per event)`,
      );
      console.log(
        `${"sealing the round's hour (inside the drain)".padEnd(52)} ${result.seal_seconds.toFixed(2).padStart(8)} s (median)`,
      );
      console.log(
        `\nprocessor = ${(result.ratio_to_copy * 100).toFixed(0)}% of COPY, median of the rounds' ratios (each: ${rounds.map((x) => `${(x.ratio_to_copy * 100).toFixed(0)}%`).join(', ')}; target ≥ 60%: ${result.ratio_to_copy >= 0.6 ? 'met' : 'NOT met'})`,
      );
    }
  } finally {
    await env.close();
  }
}

main().catch((err) => {
  console.error('[bench] failed:', err);
  process.exit(1);
});
