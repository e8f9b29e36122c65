/**
 * The references the end-to-end benchmark (e2e.bench.ts) measures ours against, on the same Redis and PostgreSQL:
 * BullMQ as a user would script it (batched, and one job per event), and the ceilings — pipelined `LPUSH` of the
 * same tasks, `COPY` of the same rows.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Queue, Worker } from 'bullmq';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createRedis } from '@telemetryhub/queue';
import { READING_DEFAULTS, toColumns } from '@telemetryhub/schemas';
import { copyTextRow } from '../apps/task-processor/src/store/copy-text.js';
import { PARTITIONED_TABLES, PartitionManager } from '../apps/task-processor/src/store/partitions.js';

/** Readings per task (as the hub publishes) and per BullMQ batched job. */
export const PER_TASK = 500;
const progress = (s: string) => process.stderr.write(`[bench] ${s}\n`);

export interface BenchEvent {
  event_id: string;
  device_id: string;
  metric: string;
  event_time: string;
  value: number;
}

/** The metrics each device of a bench fleet reports. */
export const FLEET_METRICS = ['temperature', 'humidity', 'pressure', 'voltage', 'current'];

/**
 * `n` events of a fleet of `series` series (devices × 5 metrics) reporting once a second, as a live fleet does:
 * consecutive events are of different devices, each series' readings a second apart, the newest now; random event
 * ids; devices named `<prefix>-<i>`. Event time advances with the series count, not with `n`, so a run of any
 * length folds as many readings into each rollup bucket as the fleet would.
 */
export function fleetEvents(n: number, opts: { series: number; prefix: string }): BenchEvent[] {
  const devices = Math.max(1, Math.round(opts.series / FLEET_METRICS.length));
  const perSecond = devices * FLEET_METRICS.length;
  const newest = Date.now() - 1000;
  const seconds = Math.ceil(n / perSecond);
  return Array.from({ length: n }, (_, i) => ({
    event_id: randomUUID(),
    device_id: `${opts.prefix}-${i % devices}`,
    metric: FLEET_METRICS[Math.floor(i / devices) % FLEET_METRICS.length]!,
    event_time: new Date(newest - (seconds - 1 - Math.floor(i / perSecond)) * 1000).toISOString(),
    value: 20 + (i % 97) / 10,
  }));
}

/**
 * POST bodies for a paced load: each call `perPost` readings stamped now, cycling over `devices` devices (named
 * `<prefix>-<i>`) × the fleet's metrics; `made()` counts the readings the bodies held so far.
 */
export function liveBodies(prefix: string, devices: number, perPost: number) {
  let n = 0;
  const body = () => {
    const now = new Date().toISOString();
    return JSON.stringify(
      Array.from({ length: perPost }, () => {
        const i = n++;
        return {
          event_id: randomUUID(),
          device_id: `${prefix}-${i % devices}`,
          metric: FLEET_METRICS[Math.floor(i / devices) % FLEET_METRICS.length],
          event_time: now,
          value: 21,
        };
      }),
    );
  };
  return { body, made: () => n };
}

export const chunks = <T>(xs: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(xs.length / size) }, (_, i) => xs.slice(i * size, (i + 1) * size));

export async function rowCount(db: pg.Pool, table: string): Promise<number> {
  return Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
}

/**
 * The references store into `readings` itself, as ours does: the same partitions, key and index by device, metric
 * and time (the one any query of a series needs, so a script storing queryable telemetry keeps it too). And every
 * phase, ours and theirs, starts with it empty (emptyReadings): what a phase costs PostgreSQL depends on the table it
 * writes — after the checkpoint that ends each phase, the first change to each page of a large index writes the whole
 * page to the write-ahead log, and a larger table has more pages to touch. Measured: a table made fresh for each
 * reference while ours kept growing flattered the references (at 50,000 series our drain's PostgreSQL CPU per event
 * grew from round to round, theirs stayed flat); one table kept by every phase flattered whichever phase came first
 * (docs/benchmarks.md). Their rows count in no rollup (`in_rollups` is false) and reach no processor.
 */
const REFERENCE_TABLE = 'readings';

/** Empties `readings` (every partition; the partitions stay) so that the next phase writes what all phases do. */
export async function emptyReadings(db: pg.Pool): Promise<void> {
  await db.query(`TRUNCATE ${REFERENCE_TABLE}`);
}

/** The `readings` partitions the events fall in (the processor makes its own; a reference may come first). */
async function ensurePartitions(db: pg.Pool, events: readonly BenchEvent[]): Promise<void> {
  await new PartitionManager(db).ensure(
    PARTITIONED_TABLES.readings,
    events.map((e) => Date.parse(e.event_time)),
  );
}

/**
 * BullMQ, one job per `perJob` events; the worker stores each job with one statement. Events/s, and the CPU per
 * event this process spent meanwhile: BullMQ's producer and worker, which both run here.
 */
export async function bullmq(
  redisUrl: string,
  db: pg.Pool,
  events: BenchEvent[],
  perJob: number,
  concurrency: number,
): Promise<{ rate: number; cpuMicros: number }> {
  const table = REFERENCE_TABLE;
  await ensurePartitions(db, events);
  const before = await rowCount(db, table);
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
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  void worker.run();
  for (const part of chunks(jobs, 1000)) {
    await queue.addBulk(part.map((es) => ({ name: 'e', data: { events: es }, opts: { removeOnComplete: true } })));
  }
  await allDone;
  const rate = events.length / ((performance.now() - t0) / 1000);
  const cpu = process.cpuUsage(cpu0);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  if ((await rowCount(db, table)) - before !== events.length) throw new Error(`${table}: rows missing`);
  return { rate, cpuMicros: (cpu.user + cpu.system) / events.length };
}

/** The events as the hub publishes them: `telemetry.analyze` task JSON, `PER_TASK` readings a task, in columns. */
export function analyzeTasks(events: BenchEvent[]): string[] {
  return chunks(events, PER_TASK).map((chunk) =>
    JSON.stringify({
      id: randomUUID(),
      type: 'telemetry.analyze',
      priority: 50,
      created_at: new Date().toISOString(),
      attempts: 0,
      payload: toColumns(chunk.map((e) => ({ ...e, ...READING_DEFAULTS }))),
    }),
  );
}

/** The transport's ceiling: the same events as task JSON (500 per task), pipelined LPUSH. Events/s. */
export async function lpushLimit(redisUrl: string, events: BenchEvent[]): Promise<number> {
  const redis = createRedis(redisUrl, { commandTimeoutMs: 60_000 });
  const tasks = analyzeTasks(events);
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

/** The database's ceiling: COPY of the same rows into `readings` (REFERENCE_TABLE). Rows/s. */
export async function copyLimit(db: pg.Pool, events: BenchEvent[]): Promise<number> {
  await ensurePartitions(db, events);
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
          `COPY ${REFERENCE_TABLE} (event_id, device_id, metric, event_time, value, unit, site, region, firmware, schema_version, sequence_id, task_id) FROM STDIN`,
        ),
      ),
    );
    return events.length / ((performance.now() - t0) / 1000);
  } finally {
    client.release();
  }
}
