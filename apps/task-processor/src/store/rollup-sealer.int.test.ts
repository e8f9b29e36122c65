import { test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { pino } from 'pino';
import { until } from '@telemetryhub/testkit';
import { createMetricsRegistry } from '@telemetryhub/service-kit';
import { randomUUID } from 'node:crypto';
import { TaskTypes, type Reading } from '@telemetryhub/schemas';
import { sleep } from '@telemetryhub/service-kit';
import { ReadingRows, insertReadings } from './raw.repo.js';
import { DeferredFold } from '../fold/deferred-fold.js';
import { createProcessorMetrics } from '../metrics/processor-metrics.js';
import { createTelemetryHandler } from '../handlers/telemetry.handler.js';
import { PARTITIONED_TABLES, PartitionManager, ROLLUP_SCHEMES } from './partitions.js';
import { rollupMismatches, testReading, testTask, useMigratedDatabase } from '../app.test-support.js';
import { MinuteBuckets } from './rollup-buckets.js';
import { writeRollups } from './rollup.repo.js';
import { HOUR_MS, MINUTE_MS, sealShared } from './rollup-seal.repo.js';
import { RollupSealer, sealBuckets } from './rollup-sealer.js';
import type { Granularity } from './rollup-buckets.js';

const log = pino({ level: 'silent' });
const db = useMigratedDatabase({ poolMax: 6 });
let partitionManager: PartitionManager | undefined;
/** Once the database is up (its pool exists from the file's first hook on). */
const partitions = () => (partitionManager ??= new PartitionManager(db.pool));

const metrics = () =>
  createProcessorMetrics(
    createMetricsRegistry({ service: 'telemetryhub-task-processor', version: 't', defaultMetrics: false }),
  );
const q = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) =>
  (await db.pool.query<T>(sql, params)).rows;
/** Sets where the seal of `granularities` stands (as if everything before had been sealed). */
const sealAt = (ms: number, granularities: readonly Granularity[] = ['1m', '1h']) =>
  db.pool.query(`UPDATE rollup_seals SET sealed_before = $1 WHERE granularity = ANY($2::text[])`, [
    new Date(ms).toISOString(),
    granularities,
  ]);
/** Seals the minutes, then the hours, that end by `untilMs` (at most `maxHours` hours): the hours' run. */
async function sealHours(untilMs: number, maxHours: number) {
  await sealBuckets(db.pool, partitions(), '1m', untilMs, 10_000);
  return sealBuckets(db.pool, partitions(), '1h', untilMs, maxHours);
}
const iso = (ms: number) => new Date(ms).toISOString();
/** Waits until `n` transactions wait for an advisory lock (a seal's, or one a seal holds). */
const waiting = (n: number) =>
  until(`${n} wait for a seal lock`, async () => {
    const [row] = await q<{ n: string }>(
      `SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`,
    );
    return Number(row!.n) === n;
  });
/** The readings counted in `source`'s rows of the prefix's devices and that bucket. */
async function countIn(source: string, prefix: string, bucket: number): Promise<number> {
  const [row] = await q<{ n: string | null }>(
    `SELECT sum(count) AS n FROM ${source} WHERE device_id LIKE $1 AND bucket = $2`,
    [`${prefix}-%`, iso(bucket)],
  );
  return Number(row!.n ?? 0);
}

/** Readings of `devices` devices × 2 metrics, one every `stepS` seconds from `fromMs`, with a spread of values. */
function readings(prefix: string, fromMs: number, n: number, stepS: number, devices = 3): Reading[] {
  return Array.from({ length: n }, (_, i) =>
    testReading({
      device_id: `${prefix}-${i % devices}`,
      metric: i % 2 ? 'temperature' : 'pressure',
      event_time: iso(fromMs + i * stepS * 1000),
      value: 1000 + ((i * 37) % 101) / 7,
    }),
  );
}

const mismatches = (prefix: string, source: string) => rollupMismatches(db.pool, prefix, source);
const tableHours = async (prefix: string) =>
  (
    await q<{ bucket: Date }>(`SELECT DISTINCT bucket FROM rollups_1h WHERE device_id LIKE $1 ORDER BY 1`, [
      `${prefix}-%`,
    ])
  ).map((r) => r.bucket.toISOString());

/** Stores readings through the real handler, folding each batch in its own transaction. */
const store = (rs: Reading[], type?: string) =>
  createTelemetryHandler({ pool: db.pool, log, metrics: metrics() }).handle([testTask(rs, type)]);
const tableMinutes = async (prefix: string) =>
  Number(
    (await q<{ n: string }>(`SELECT count(*) AS n FROM rollups_1m WHERE device_id LIKE $1`, [`${prefix}-%`]))[0]!.n,
  );

test('an open minute is read from its raw readings, sealed from them once over, and a late reading joins its sealed row', async () => {
  const m0 = Date.parse('2031-05-01T00:00:00Z');
  await sealAt(m0);
  await store(readings('MIN', m0, 90, 2)); // three minutes, every 2 s, of three devices × 2 metrics
  await store(readings('MIN-STORE', m0, 10, 2), TaskTypes.STORE); // stored, not rolled up
  assert.equal(await tableMinutes('MIN'), 0, 'open minutes are not written by the fold');
  assert.deepEqual(await mismatches('MIN', 'rollups_1m_all'), []);
  assert.deepEqual(await mismatches('MIN', 'rollups_1h_all'), [], 'the open hour reads its open minutes');

  const run = await sealBuckets(db.pool, partitions(), '1m', m0 + 2 * MINUTE_MS, 10);
  assert.deepEqual([run.buckets, run.sealedBeforeMs], [2, m0 + 2 * MINUTE_MS]);
  assert.equal(await tableMinutes('MIN'), 12, 'two minutes of six series each');
  assert.deepEqual(await mismatches('MIN', 'rollups_1m_all'), [], 'sealed and open minutes read as before');
  assert.equal((await sealBuckets(db.pool, partitions(), '1m', m0 + 2 * MINUTE_MS, 10)).buckets, 0, 'once');

  await store(readings('MIN', m0 + 30_000, 1, 1)); // late: into the sealed minute, by the fold
  await store(readings('MIN', m0 + 2 * MINUTE_MS + 1000, 1, 1)); // not late: its minute is open
  assert.deepEqual(await mismatches('MIN', 'rollups_1m_all'), []);
  assert.equal(await tableMinutes('MIN'), 12, 'the late reading went into its row; the open minute has none yet');
  await sealBuckets(db.pool, partitions(), '1m', m0 + HOUR_MS, 60);
  assert.deepEqual(await mismatches('MIN', 'rollups_1m'), [], 'every minute in the table once sealed');
  assert.equal(await tableMinutes('MIN-STORE'), 0, 'telemetry.store readings are in no rollup');
});

test('a minute’s seal adds to the row a processor from before sealing upserted for its own readings', async () => {
  const m = Date.parse('2031-05-02T00:00:00Z');
  await sealAt(m);
  await store(readings('OLDER', m + 1000, 4, 1, 1)); // 2 pressure, 2 temperature readings
  // The older processor stored its reading with in_rollups false (the column's default) and upserted the minute.
  await db.pool.query(
    `INSERT INTO readings (event_id, device_id, metric, event_time, value, schema_version) VALUES ($1, 'OLDER-0', 'pressure', $2, 7, 1)`,
    [randomUUID(), iso(m + 5000)],
  );
  await db.pool.query(
    `INSERT INTO rollups_1m (device_id, metric, bucket, count, sum, min, max, m2) VALUES ('OLDER-0', 'pressure', $1, 1, 7, 7, 7, 0)`,
    [iso(m)],
  );
  await sealBuckets(db.pool, partitions(), '1m', m + MINUTE_MS, 1);
  const [row] = await q<{ count: string; min: number }>(
    `SELECT count, min FROM rollups_1m WHERE device_id = 'OLDER-0' AND metric = 'pressure' AND bucket = $1`,
    [iso(m)],
  );
  assert.deepEqual(row, { count: '3', min: 7 }, 'the seal’s two readings added to the older processor’s one');
});

test('a minute sealed while a batch of it is being stored holds the batch’s readings, once, whichever commits first', async () => {
  const m = Date.parse('2031-05-03T00:00:00Z');
  await sealAt(m);
  for (const scheme of [...ROLLUP_SCHEMES, PARTITIONED_TABLES.readings]) await partitions().ensure(scheme, [m]);
  const minuteCount = (bucket: number) => countIn('rollups_1m', 'MRACE', bucket);

  // A batch of minute m is being stored (its raw rows written, not committed) when the seal of m starts: the seal
  // waits for it, and then counts its raw rows.
  const storing = await db.pool.connect();
  try {
    await storing.query('BEGIN');
    const batch = readings('MRACE', m + 5000, 12, 1);
    const rows = new ReadingRows();
    for (const r of batch) rows.push(r, 't', true);
    await insertReadings(storing, rows);
    assert.equal(await sealShared(storing, '1m', [m / MINUTE_MS]), m, 'its minute is open');
    const seal = sealBuckets(db.pool, partitions(), '1m', m + MINUTE_MS, 1);
    await waiting(1);
    await storing.query('COMMIT');
    assert.equal((await seal).buckets, 1);
  } finally {
    await storing.query('ROLLBACK').catch(() => {});
    storing.release();
  }
  assert.equal(await minuteCount(m), 12);

  // A seal of minute m + 1 waits behind a batch holding its lock; a second batch of that minute, stored through the
  // handler, asks after the seal did, waits for it, and then finds its minute sealed: its fold upserts the row.
  const holder = await db.pool.connect();
  try {
    await holder.query('BEGIN');
    await sealShared(holder, '1m', [m / MINUTE_MS + 1]);
    const seal = sealBuckets(db.pool, partitions(), '1m', m + 2 * MINUTE_MS, 1);
    await waiting(1);
    const late = store(readings('MRACE', m + MINUTE_MS + 5000, 8, 1));
    await waiting(2);
    await holder.query('COMMIT');
    assert.equal((await seal).buckets, 1);
    await late;
  } finally {
    await holder.query('ROLLBACK').catch(() => {});
    holder.release();
  }
  assert.equal(await minuteCount(m + MINUTE_MS), 8, 'the late batch’s readings are in the sealed minute, once');
  assert.deepEqual(await mismatches('MRACE', 'rollups_1m'), []);
});

test('a batch’s fold leaves its open minutes to the seal, also when a sweep folds it from raw after a crash', async () => {
  const m = Date.parse('2031-05-04T00:00:00Z');
  await sealAt(m + MINUTE_MS); // minute m is sealed: its readings are late, the fold's; m + 1 is open, the seal's
  const crashed = new DeferredFold({
    pool: db.pool,
    partitions: partitions(),
    metrics: metrics(),
    log,
    settings: {},
    options: { intervalMs: 60_000 },
  });
  const handler = createTelemetryHandler({ pool: db.pool, log, metrics: metrics(), fold: crashed });
  await handler.handle([testTask(readings('SWEPT', m + 30_000, 20, 3))]); // 10 in minute m, 10 in m + 1
  // The processor dies holding the batch: another one's sweep folds it from its raw rows and the ledger.
  const survivor = new DeferredFold({
    pool: db.pool,
    partitions: partitions(),
    metrics: metrics(),
    log,
    settings: {},
    options: { orphanAfterMs: 1 },
  });
  await sleep(5);
  assert.equal(await survivor.sweep(), 1);
  assert.equal(await tableMinutes('SWEPT'), 6, 'the sealed minute’s rows only (three devices × two metrics)');
  await sealBuckets(db.pool, partitions(), '1m', m + 2 * MINUTE_MS, 1);
  assert.deepEqual(await mismatches('SWEPT', 'rollups_1m'), [], 'each reading counted once: by the fold or the seal');
});

test('an open hour is read from its minute rows, sealed from them once over, and a late reading joins its sealed row', async () => {
  const h0 = Date.parse('2031-01-01T00:00:00Z');
  await sealAt(h0);
  await store(readings('SEAL', h0, 240, 30)); // two hours, every 30 s
  assert.deepEqual(await tableHours('SEAL'), [], 'open hours are not written by the fold');
  assert.deepEqual(await mismatches('SEAL', 'rollups_1h_all'), []);

  const first = await sealHours(h0 + HOUR_MS + 60_000, 24);
  assert.deepEqual(first, { buckets: 1, rows: 6, sealedBeforeMs: h0 + HOUR_MS });
  assert.deepEqual(await tableHours('SEAL'), [iso(h0)]);
  assert.deepEqual(await mismatches('SEAL', 'rollups_1h_all'), [], 'the sealed hour reads as before');
  assert.deepEqual(await sealHours(h0 + HOUR_MS + 60_000, 24), {
    buckets: 0,
    rows: 0,
    sealedBeforeMs: h0 + HOUR_MS,
  });

  await store(readings('SEAL', h0 + 59 * 60_000 + 59_000, 1, 1)); // late: into the sealed hour, by the fold
  assert.deepEqual(await mismatches('SEAL', 'rollups_1h_all'), []);
  const [late] = await q<{ count: string }>(
    `SELECT count FROM rollups_1h WHERE device_id = 'SEAL-0' AND metric = 'pressure' AND bucket = $1`,
    [iso(h0)],
  );
  assert.equal(late?.count, '21', 'the sealed row took the late reading in');

  const rest = await sealHours(Date.parse('2031-01-01T05:00:00Z'), 24);
  assert.deepEqual([rest.buckets, rest.sealedBeforeMs], [4, Date.parse('2031-01-01T05:00:00Z')]);
  assert.deepEqual(await tableHours('SEAL'), [iso(h0), iso(h0 + HOUR_MS)]);
  assert.deepEqual(await mismatches('SEAL', 'rollups_1h'), [], 'every hour in the table once sealed');
});

test('an hour sealed while a fold is under way holds the fold’s readings, once, whichever commits first', async () => {
  const h = Date.parse('2031-02-01T00:00:00Z');
  await sealAt(h, ['1h']);
  await sealAt(h + 3 * HOUR_MS, ['1m']); // the folds below write minute rows: of sealed minutes
  for (const scheme of ROLLUP_SCHEMES) await partitions().ensure(scheme, [h]);
  const hourCount = (bucket: number) => countIn('rollups_1h_all', 'RACE', bucket);
  const fold = MinuteBuckets.of(readings('RACE', h + 10 * 60_000, 30, 10));

  // A fold of hour h is under way (its minute rows written, not committed) when the seal of hour h starts: the
  // seal waits for it, and then reads its minute rows.
  const folding = await db.pool.connect();
  try {
    await folding.query('BEGIN');
    await writeRollups(folding, fold);
    const seal = sealHours(h + HOUR_MS, 1);
    await waiting(1);
    // A fold of a later hour does not wait for this seal.
    const other = await db.pool.connect();
    try {
      await other.query('BEGIN');
      const later = MinuteBuckets.of(readings('RACE-LATER', h + HOUR_MS, 4, 10));
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('a fold of the next hour waited for the seal')), 5000);
      });
      await Promise.race([writeRollups(other, later), stuck]).finally(() => clearTimeout(timer));
    } finally {
      await other.query('ROLLBACK').catch(() => {});
      other.release();
    }
    await folding.query('COMMIT');
    assert.deepEqual((await seal).buckets, 1);
  } finally {
    await folding.query('ROLLBACK').catch(() => {});
    folding.release();
  }
  assert.equal(await hourCount(h), 30);

  // A seal of hour h + 1 waits behind a fold holding the lock; a second fold of that hour comes after the seal
  // asked, waits for it, and then finds its hour sealed: it upserts the hour row itself.
  const second = MinuteBuckets.of(readings('RACE', h + HOUR_MS + 5 * 60_000, 12, 10));
  const holder = await db.pool.connect();
  const late = await db.pool.connect();
  try {
    await holder.query('BEGIN');
    await sealShared(holder, '1h', [h / HOUR_MS + 1]);
    const seal = sealHours(h + 2 * HOUR_MS, 1);
    await waiting(1);
    await late.query('BEGIN');
    const lateFold = writeRollups(late, second);
    await waiting(2);
    await holder.query('COMMIT');
    assert.deepEqual((await seal).buckets, 1);
    await lateFold;
    await late.query('COMMIT');
  } finally {
    for (const c of [holder, late]) await c.query('ROLLBACK').catch(() => {});
    holder.release();
    late.release();
  }
  assert.equal(await hourCount(h + HOUR_MS), 12, 'the late fold’s readings are in the sealed hour');
  const [row] = await q<{ n: string }>(
    `SELECT sum(count) AS n FROM rollups_1h WHERE device_id LIKE 'RACE-%' AND bucket = $1`,
    [iso(h + HOUR_MS)],
  );
  assert.equal(row?.n, '12');
});

test('the sealer seals minutes, then hours, each a grace period after it ends, and counts them', async () => {
  const h = Date.parse('2031-03-01T00:00:00Z');
  await sealAt(h);
  const m = metrics();
  const sealer = new RollupSealer({
    pool: db.pool,
    partitions: partitions(),
    metrics: m,
    log,
    options: { minuteGraceMs: 60_000, hourGraceMs: 120_000 },
  });
  const sealed = async (nowMs: number) => {
    const run = await sealer.runOnce(nowMs);
    return [run['1m']?.buckets, run['1h']?.buckets];
  };
  assert.deepEqual(await sealed(h + HOUR_MS + 119_999), [60, 0], 'the hour not before its grace has passed');
  assert.deepEqual(await sealed(h + HOUR_MS + 120_000), [1, 1]);
  const byGranularity = async (metric: { get(): Promise<{ values: { labels: object; value: number }[] }> }) =>
    Object.fromEntries((await metric.get()).values.map((v) => [Object.values(v.labels).join(' '), v.value] as const));
  assert.deepEqual(await byGranularity(m.rollupBucketsSealed), { '1m': 61, '1h': 1 });
  assert.deepEqual(await byGranularity(m.rollupSealedBefore), {
    '1m': (h + HOUR_MS + MINUTE_MS) / 1000,
    '1h': (h + HOUR_MS) / 1000,
  });
  assert.deepEqual(await byGranularity(m.rollupSealRuns), { '1m done': 2, '1h done': 2 });
});

test('a fold takes the seal locks of open hours only: late readings of many sealed hours take none', async () => {
  const h = Date.parse('2031-04-02T00:00:00Z');
  await sealAt(h, ['1h']);
  await sealAt(h + HOUR_MS, ['1m']);
  for (const scheme of ROLLUP_SCHEMES) await partitions().ensure(scheme, [h - 48 * HOUR_MS, h]);
  // A reading in each of the 48 sealed hours before h, and two in h (open).
  const fold = MinuteBuckets.of([
    ...Array.from({ length: 48 }, (_, i) => readings('LOCKS', h - (i + 1) * HOUR_MS, 1, 1)[0]!),
    ...readings('LOCKS', h + 60_000, 2, 1),
  ]);
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await writeRollups(client, fold);
    const { rows } = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()`,
    );
    assert.equal(rows[0]!.n, '1', 'one lock: the open hour');
    await client.query('COMMIT');
  } finally {
    await client.query('ROLLBACK').catch(() => {});
    client.release();
  }
  const [row] = await q<{ n: string }>(
    `SELECT count(*) AS n FROM rollups_1h WHERE device_id LIKE 'LOCKS-%' AND bucket < $1`,
    [iso(h)],
  );
  assert.equal(row?.n, '48', 'each sealed hour took its late reading in its row');
});

test('a seal replaces the rows its hour already had (upserted by processors from before sealing existed)', async () => {
  const h = Date.parse('2031-04-03T00:00:00Z');
  await sealAt(h);
  await store(readings('LEFT', h + 60_000, 12, 60, 2));
  // What a processor of the previous version left: its own upsert of the open hour, here made wrong on purpose.
  await db.pool.query(
    `INSERT INTO rollups_1h (device_id, metric, bucket, count, sum, min, max, m2) VALUES ('LEFT-0', 'pressure', $1, 999, 0, 0, 0, 0)`,
    [iso(h)],
  );
  assert.deepEqual((await sealHours(h + HOUR_MS, 1)).buckets, 1);
  assert.deepEqual(await mismatches('LEFT', 'rollups_1h'), [], 'the hour’s rows are its minutes’, and only those');
});
