import { test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { pino } from 'pino';
import { until } from '@telemetryhub/testkit';
import { createMetricsRegistry } from '@telemetryhub/service-kit';
import type { Reading } from '@telemetryhub/schemas';
import { createProcessorMetrics } from '../metrics/processor-metrics.js';
import { createTelemetryHandler } from '../handlers/telemetry.handler.js';
import { PartitionManager, ROLLUP_SCHEMES } from './partitions.js';
import { testReading, testTask, useMigratedDatabase } from '../app.test-support.js';
import { MinuteBuckets } from './rollup-buckets.js';
import { writeRollups } from './rollup.repo.js';
import { HOUR_MS, hourSealShared } from './hour-seal.repo.js';
import { HourSealer, sealHours } from './hour-sealer.js';

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
const sealAt = (ms: number) =>
  db.pool.query(`UPDATE rollup_seals SET sealed_before = $1 WHERE granularity = '1h'`, [new Date(ms).toISOString()]);
const iso = (ms: number) => new Date(ms).toISOString();

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

/**
 * Hour rows of the prefix's devices (from `source`) that differ from a recomputation from the raw readings: count,
 * min and max exactly, sum and the standard deviation to rounding. None = exact.
 */
async function hourMismatches(prefix: string, source: 'rollups_1h' | 'rollups_1h_all'): Promise<unknown[]> {
  return q(
    `WITH truth AS (
       SELECT device_id, metric, date_trunc('hour', event_time, 'UTC') AS bucket, count(*) AS count,
              sum(value) AS sum, min(value) AS min, max(value) AS max, stddev_samp(value) AS sd
         FROM readings WHERE device_id LIKE $1 GROUP BY 1, 2, 3)
     SELECT * FROM truth t
       FULL JOIN (SELECT *, CASE WHEN count > 1 THEN sqrt(m2 / (count - 1)) END AS sd
                    FROM ${source} WHERE device_id LIKE $1) r USING (device_id, metric, bucket)
      WHERE t.count IS DISTINCT FROM r.count OR abs(t.sum - r.sum) > 1e-6
         OR t.min IS DISTINCT FROM r.min OR t.max IS DISTINCT FROM r.max
         OR abs(coalesce(t.sd, 0) - coalesce(r.sd, 0)) > 1e-9`,
    [`${prefix}-%`],
  );
}
const tableHours = async (prefix: string) =>
  (
    await q<{ bucket: Date }>(`SELECT DISTINCT bucket FROM rollups_1h WHERE device_id LIKE $1 ORDER BY 1`, [
      `${prefix}-%`,
    ])
  ).map((r) => r.bucket.toISOString());

/** Stores readings through the real handler, folding each batch in its own transaction. */
const store = (rs: Reading[]) =>
  createTelemetryHandler({ pool: db.pool, log, metrics: metrics() }).handle([testTask(rs)]);

test('an open hour is read from its minute rows, sealed from them once over, and a late reading joins its sealed row', async () => {
  const h0 = Date.parse('2031-01-01T00:00:00Z');
  await sealAt(h0);
  await store(readings('SEAL', h0, 240, 30)); // two hours, every 30 s
  assert.deepEqual(await tableHours('SEAL'), [], 'open hours are not written by the fold');
  assert.deepEqual(await hourMismatches('SEAL', 'rollups_1h_all'), []);

  const first = await sealHours(db.pool, partitions(), h0 + HOUR_MS + 60_000, 24);
  assert.deepEqual(first, { hours: 1, rows: 6, sealedBeforeMs: h0 + HOUR_MS });
  assert.deepEqual(await tableHours('SEAL'), [iso(h0)]);
  assert.deepEqual(await hourMismatches('SEAL', 'rollups_1h_all'), [], 'the sealed hour reads as before');
  assert.deepEqual(await sealHours(db.pool, partitions(), h0 + HOUR_MS + 60_000, 24), {
    hours: 0,
    rows: 0,
    sealedBeforeMs: h0 + HOUR_MS,
  });

  await store(readings('SEAL', h0 + 59 * 60_000 + 59_000, 1, 1)); // late: into the sealed hour, by the fold
  assert.deepEqual(await hourMismatches('SEAL', 'rollups_1h_all'), []);
  const [late] = await q<{ count: string }>(
    `SELECT count FROM rollups_1h WHERE device_id = 'SEAL-0' AND metric = 'pressure' AND bucket = $1`,
    [iso(h0)],
  );
  assert.equal(late?.count, '21', 'the sealed row took the late reading in');

  const rest = await sealHours(db.pool, partitions(), Date.parse('2031-01-01T05:00:00Z'), 24);
  assert.deepEqual([rest.hours, rest.sealedBeforeMs], [4, Date.parse('2031-01-01T05:00:00Z')]);
  assert.deepEqual(await tableHours('SEAL'), [iso(h0), iso(h0 + HOUR_MS)]);
  assert.deepEqual(await hourMismatches('SEAL', 'rollups_1h'), [], 'every hour in the table once sealed');
});

test('an hour sealed while a fold is under way holds the fold’s readings, once, whichever commits first', async () => {
  const h = Date.parse('2031-02-01T00:00:00Z');
  await sealAt(h);
  for (const scheme of ROLLUP_SCHEMES) await partitions().ensure(scheme, [h]);
  const waiting = async (n: number) =>
    until(
      `${n} wait for the seal's lock`,
      async () =>
        Number(
          (await q<{ n: string }>(`SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`))[0]!
            .n,
        ) === n,
    );
  const hourCount = async (bucket: number) =>
    Number(
      (
        await q<{ n: string | null }>(
          `SELECT sum(count) AS n FROM rollups_1h_all WHERE device_id LIKE 'RACE-%' AND bucket = $1`,
          [iso(bucket)],
        )
      )[0]!.n ?? 0,
    );
  const fold = MinuteBuckets.of(readings('RACE', h + 10 * 60_000, 30, 10));

  // A fold of hour h is under way (its minute rows written, not committed) when the seal of hour h starts: the
  // seal waits for it, and then reads its minute rows.
  const folding = await db.pool.connect();
  try {
    await folding.query('BEGIN');
    await writeRollups(folding, fold);
    const seal = sealHours(db.pool, partitions(), h + HOUR_MS, 1);
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
    assert.deepEqual((await seal).hours, 1);
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
    await hourSealShared(holder, [h / HOUR_MS + 1]);
    const seal = sealHours(db.pool, partitions(), h + 2 * HOUR_MS, 1);
    await waiting(1);
    await late.query('BEGIN');
    const lateFold = writeRollups(late, second);
    await waiting(2);
    await holder.query('COMMIT');
    assert.deepEqual((await seal).hours, 1);
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

test('the sealer seals an hour a grace period after it ends, and counts it', async () => {
  const h = Date.parse('2031-03-01T00:00:00Z');
  await sealAt(h);
  const m = metrics();
  const sealer = new HourSealer({
    pool: db.pool,
    partitions: partitions(),
    metrics: m,
    log,
    options: { graceMs: 120_000 },
  });
  assert.equal((await sealer.runOnce(h + HOUR_MS + 119_999))?.hours, 0, 'not before the grace has passed');
  assert.equal((await sealer.runOnce(h + HOUR_MS + 120_000))?.hours, 1);
  assert.equal((await m.hoursSealed.get()).values[0]?.value, 1);
  assert.equal((await m.hourSealedBefore.get()).values[0]?.value, (h + HOUR_MS) / 1000);
  assert.deepEqual(
    (await m.hourSealRuns.get()).values.map((v) => [v.labels.outcome, v.value]),
    [['done', 2]],
  );
});

test('a fold takes the seal locks of open hours only: late readings of many sealed hours take none', async () => {
  const h = Date.parse('2031-04-02T00:00:00Z');
  await sealAt(h);
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
  assert.deepEqual((await sealHours(db.pool, partitions(), h + HOUR_MS, 1)).hours, 1);
  assert.deepEqual(await hourMismatches('LEFT', 'rollups_1h'), [], 'the hour’s rows are its minutes’, and only those');
});
