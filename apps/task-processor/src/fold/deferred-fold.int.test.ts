import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { pino } from 'pino';
import { PostgresServer, RedisServer } from '@telemetryhub/testkit';
import { createRedis, type RedisClient } from '@telemetryhub/queue';
import { createMetricsRegistry } from '@telemetryhub/service-kit';
import { TaskTypes, type Reading } from '@telemetryhub/schemas';
import { createPgPool } from '../store/pool.js';
import { migrate } from '@telemetryhub/migrations';
import { createProcessorMetrics } from '../metrics/processor-metrics.js';
import { createTelemetryHandler } from '../handlers/telemetry.handler.js';
import { PartitionManager } from '../store/partitions.js';
import { pendingCount } from './fold-pending.repo.js';
import { rollupMismatches, testReading, testTask } from '../app.test-support.js';
import { DeferredFold, type DeferredFoldOptions } from './deferred-fold.js';
import { LatestCache } from '../store/latest.cache.js';

const log = pino({ level: 'silent' });
const outliers = { z: 4, resolveZ: 2, alpha: 0.05, minSamples: 30 };
let server: PostgresServer;
let pool: pg.Pool;
let redisServer: RedisServer;
let redis: RedisClient;
/** The latest-value cache every fold here writes to. */
let latest: LatestCache;

before(async () => {
  [server, redisServer] = await Promise.all([PostgresServer.start(), RedisServer.start()]);
  pool = createPgPool(server.url, { max: 6, statementTimeoutMs: 10_000 }, log);
  redis = createRedis(redisServer.url);
  latest = new LatestCache(redis, log);
  await migrate(pool, log);
});
after(async () => {
  await pool.end();
  redis.disconnect();
  await Promise.all([server.stop(), redisServer.stop()]);
});

const metrics = () =>
  createProcessorMetrics(
    createMetricsRegistry({ service: 'telemetryhub-task-processor', version: 't', defaultMetrics: false }),
  );

/** A deferred fold (never on a timer here: the tests fold by hand) and a handler storing through it. */
function processor(options: Partial<DeferredFoldOptions> = {}) {
  const m = metrics();
  const fold = new DeferredFold({
    pool,
    partitions: new PartitionManager(pool),
    metrics: m,
    log,
    settings: { outliers },
    latest,
    options: { intervalMs: 60_000, ...options },
  });
  return { fold, metrics: m, handler: createTelemetryHandler({ pool, log, metrics: m, outliers, fold }) };
}

/** `n` readings of `devices` devices × 2 metrics, one a second from `start`. */
function readings(prefix: string, n: number, devices: number, start: string): Reading[] {
  const t0 = Date.parse(start);
  return Array.from({ length: n }, (_, i) =>
    testReading({
      device_id: `${prefix}-${i % devices}`,
      metric: i % (2 * devices) < devices ? 'temperature' : 'pressure',
      event_time: new Date(t0 + i * 1000).toISOString(),
      value: 20 + ((i * 7) % 13) / 3,
    }),
  );
}

const q = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) =>
  (await pool.query<T>(sql, params)).rows;

const mismatches = (prefix: string, source: 'rollups_1m' | 'rollups_1h_all') => rollupMismatches(pool, prefix, source);

/** The newest of `rs` by event time (the first of equals). */
const newestOf = (rs: readonly Reading[]) => rs.reduce((n, r) => (r.event_time > n.event_time ? r : n));

const count = async (sql: string, prefix: string) => Number((await q<{ n: string }>(sql, [`${prefix}-%`]))[0]!.n);
const rollupRows = (prefix: string) => count('SELECT count(*) AS n FROM rollups_1m WHERE device_id LIKE $1', prefix);
const outlierSamples = (prefix: string) =>
  count('SELECT coalesce(sum(samples), 0) AS n FROM outlier_state WHERE device_id LIKE $1', prefix);

test('stored readings are folded a beat later, many batches in one fold, each exactly once', async () => {
  const { fold, handler } = processor();
  const all = readings('DF', 600, 20, '2026-05-01T10:00:00Z');
  const batches = [all.slice(0, 200), all.slice(200, 400), all.slice(400)].map((r) => testTask(r));
  for (const b of batches) await handler.handle([b]);
  await handler.handle([testTask(all.slice(100, 300))]); // a resend: stores nothing, stages nothing
  assert.equal(await count('SELECT count(*) AS n FROM readings WHERE device_id LIKE $1', 'DF'), 600);
  assert.equal(await rollupRows('DF'), 0, 'not folded yet');
  assert.equal(await pendingCount(pool), 3, 'one ledger row per batch that stored something');
  assert.equal(await latest.get('DF-0', 'temperature'), null, 'the cache is written by the fold');

  await fold.flush();
  assert.equal(await pendingCount(pool), 0);
  for (const [device, metric] of [
    ['DF-0', 'temperature'],
    ['DF-19', 'pressure'],
  ] as const) {
    const newest = newestOf(all.filter((r) => r.device_id === device && r.metric === metric));
    const cached = await latest.get(device, metric);
    assert.deepEqual([cached?.event_id, cached?.value], [newest.event_id, newest.value], `${device} ${metric}`);
  }
  assert.deepEqual(await mismatches('DF', 'rollups_1m'), []);
  assert.deepEqual(await mismatches('DF', 'rollups_1h_all'), []);
  assert.equal(await outlierSamples('DF'), 600);
  const [device] = await q<{ first_seen: Date; last_seen: Date }>(
    `SELECT first_seen, last_seen FROM devices WHERE device_id = 'DF-0'`,
  );
  assert.equal(device!.first_seen.toISOString(), '2026-05-01T10:00:00.000Z');
  assert.equal(device!.last_seen.toISOString(), all.filter((r) => r.device_id === 'DF-0').at(-1)!.event_time);
  await fold.flush(); // nothing held: nothing folded twice
  assert.deepEqual(await mismatches('DF', 'rollups_1m'), []);
});

test('a processor that dies holding batches: another folds them from raw, exactly once, with each task’s steps', async () => {
  const dead = processor();
  const all = readings('DO', 400, 10, '2026-05-02T10:00:00Z');
  // One task stored in two transactions (as bisection does), their event-time spans overlapping.
  const split = testTask(all.slice(0, 200));
  await dead.handler.handle([{ ...split, readings: split.readings.filter((_, i) => i % 3 === 0) }]);
  await dead.handler.handle([{ ...split, readings: split.readings.filter((_, i) => i % 3 !== 0) }]);
  await dead.handler.handle([testTask(all.slice(200, 300), TaskTypes.STORE)]); // devices only
  await dead.handler.handle([testTask(all.slice(300), TaskTypes.ALERT)]); // outliers and devices, no rollups
  assert.equal(await pendingCount(pool), 4);

  const survivor = processor({ orphanAfterMs: 1 });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(await survivor.fold.sweep(), 4);
  assert.equal(await pendingCount(pool), 0);
  const rolled = all.slice(0, 200);
  const rolledByMinute = new Set(rolled.map((r) => `${r.device_id} ${r.metric} ${r.event_time.slice(0, 16)}`));
  assert.equal(await rollupRows('DO'), rolledByMinute.size, 'only the analyze task is rolled up');
  const [sum] = await q<{ n: string; s: number }>(
    `SELECT sum(count) AS n, sum(sum) AS s FROM rollups_1m WHERE device_id LIKE 'DO-%'`,
  );
  assert.equal(Number(sum!.n), 200, 'the split task counted once, not once per transaction');
  assert.ok(Math.abs(sum!.s - rolled.reduce((s, r) => s + r.value, 0)) < 1e-6);
  assert.equal(await outlierSamples('DO'), 300, 'analyze and alert readings, not store');
  const [last] = await q<{ last_seen: Date }>(
    `SELECT max(last_seen) AS last_seen FROM devices WHERE device_id LIKE 'DO-%'`,
  );
  assert.equal(last!.last_seen.toISOString(), all.at(-1)!.event_time, 'every stored reading reaches its device');
  // The latest-value cache, which the dead processor never wrote, from the raw rows, with their stored_at.
  const newest = newestOf(all.filter((r) => r.device_id === 'DO-3' && r.metric === 'pressure'));
  const [stored] = await q<{ stored_at: Date }>(`SELECT stored_at FROM readings WHERE event_id = $1`, [
    newest.event_id,
  ]);
  const cached = await latest.get('DO-3', 'pressure');
  assert.deepEqual(
    [cached?.event_id, cached?.stored_at],
    [newest.event_id, stored!.stored_at.toISOString()],
    'swept readings reach the cache',
  );

  // The dead processor's memory, had it woken up: its fold finds its batches taken and folds nothing.
  await dead.fold.flush();
  assert.equal(
    Number((await q<{ n: string }>(`SELECT sum(count) AS n FROM rollups_1m WHERE device_id LIKE 'DO-%'`))[0]!.n),
    200,
  );
  assert.equal(await outlierSamples('DO'), 300);
  assert.equal(await survivor.fold.sweep(), 0);
});

test('held readings are bounded: past FOLD_MAX_READINGS, storing waits for a fold', async () => {
  const { fold, handler } = processor({ maxReadings: 100 });
  await handler.handle([testTask(readings('DB', 60, 5, '2026-05-03T10:00:00Z'))]);
  assert.equal(await pendingCount(pool), 1, 'under the bound: held');
  await handler.handle([testTask(readings('DB', 120, 5, '2026-05-03T11:00:00Z'))]);
  assert.equal(await pendingCount(pool), 0, 'over it: folded before the handler returned');
  assert.deepEqual(await mismatches('DB', 'rollups_1m'), []);
  await fold.stop();
});

test('at a tick, a fold of many rows waits for several readings per row, or until nothing more comes', async () => {
  const { fold, handler } = processor({ intervalMs: 2000, smallFoldRows: 10, readingsPerRow: 4, maxDelayMs: 60_000 });
  // 50 series (25 devices × 2 metrics), one reading each per batch, all in one minute: 50 rows per table.
  const batch = (k: number) => readings('DT', 50, 25, `2026-05-06T10:00:00.${k}00Z`);
  await handler.handle([testTask(batch(1))]);
  await fold.tick();
  assert.equal(await pendingCount(pool), 1, 'one reading per row: held');
  for (const k of [2, 3]) await handler.handle([testTask(batch(k))]);
  await fold.tick();
  assert.equal(await pendingCount(pool), 3, 'three readings per row: still held');
  await handler.handle([testTask(batch(4))]);
  await fold.tick();
  assert.equal(await pendingCount(pool), 0, 'four readings per row: folded');
  assert.deepEqual(await mismatches('DT', 'rollups_1m'), []);

  const quiet = processor({ intervalMs: 1000, smallFoldRows: 10, readingsPerRow: 4, maxDelayMs: 60_000 });
  await quiet.handler.handle([testTask(readings('DU', 50, 25, '2026-05-06T11:00:00Z'))]);
  await quiet.fold.tick();
  assert.equal(await pendingCount(pool), 1, 'sparse, and readings may still come: held');
  await new Promise((r) => setTimeout(r, 1100));
  await quiet.fold.tick();
  assert.equal(await pendingCount(pool), 0, 'nothing stored for an interval: folded, long before the max delay');
  assert.deepEqual(await mismatches('DU', 'rollups_1m'), []);
});

test('a fold that finds some of its batches taken by a sweep folds the others from raw, each reading once', async () => {
  const p = processor();
  const all = readings('DP', 300, 10, '2026-05-04T10:00:00Z');
  await p.handler.handle([testTask(all.slice(0, 100))]);
  // Another processor takes the first batch as an orphan while this one still holds it in its aggregate.
  const sweeper = processor({ orphanAfterMs: 1 });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(await sweeper.fold.sweep(), 1);
  await p.handler.handle([testTask(all.slice(100, 200))]);
  await p.handler.handle([testTask(all.slice(200))]);
  assert.equal(await pendingCount(pool), 2);

  await p.fold.flush();
  assert.equal(await pendingCount(pool), 0);
  assert.deepEqual(await mismatches('DP', 'rollups_1m'), []);
  assert.deepEqual(await mismatches('DP', 'rollups_1h_all'), []);
  assert.equal(await outlierSamples('DP'), 300, 'the swept batch through the outlier detector once, not twice');
});

test('a fold that fails keeps what it gathered, and folds it with the later batches once it can', async () => {
  const m = metrics();
  const shortPool = createPgPool(server.url, { max: 4, statementTimeoutMs: 300 }, log);
  const fold = new DeferredFold({
    pool: shortPool,
    partitions: new PartitionManager(shortPool),
    metrics: m,
    log,
    settings: { outliers },
    options: { intervalMs: 60_000 },
  });
  const handler = createTelemetryHandler({ pool: shortPool, log, metrics: m, outliers, fold });
  const all = readings('DR', 200, 10, '2026-05-05T10:00:00Z');
  try {
    await handler.handle([testTask(all.slice(0, 100))]);
    const locker = await pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE rollups_1m IN ACCESS EXCLUSIVE MODE');
      await fold.flush(); // times out on the lock: nothing folded, the batch still held
      await handler.handle([testTask(all.slice(100))]);
      await locker.query('ROLLBACK');
    } finally {
      locker.release();
    }
    assert.equal(await rollupRows('DR'), 0);
    assert.equal(await pendingCount(pool), 2);
    assert.equal((await m.foldRuns.get()).values.find((v) => v.labels.outcome === 'failed')?.value, 1);

    await fold.flush();
    assert.equal(await pendingCount(pool), 0);
    assert.deepEqual(await mismatches('DR', 'rollups_1m'), []);
    assert.deepEqual(await mismatches('DR', 'rollups_1h_all'), []);
    assert.equal(await outlierSamples('DR'), 200);
  } finally {
    await shortPool.end();
  }
});

test('past the series index’s capacity a fold starts a new index: what each gathered is folded once, a failed fold’s too', async () => {
  const { fold, handler, metrics: m } = processor({ seriesCapacity: 8 });
  const all = readings('DS', 240, 10, '2026-05-07T10:00:00Z'); // 20 series: more than an index holds here
  const late = (r: Reading) => r.device_id === 'DS-8' || r.device_id === 'DS-9';
  // The second batch: two devices only, newest first, so that the new index numbers its series otherwise than
  // the first index did (a series mapped by its number instead of its name would land on another series).
  const [first, second, third] = [
    all.slice(0, 80),
    all.slice(80, 160).filter(late).reverse(),
    all.slice(160).filter((r) => !late(r)),
  ];
  await handler.handle([testTask(first)]); // numbered on the first index, which is now full
  const locker = await pool.connect();
  try {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE rollups_1m IN ACCESS EXCLUSIVE MODE');
    const failing = fold.flush(); // hands what it holds to the fold, and gathers on a new index from now on
    await handler.handle([testTask(second)]);
    // The fold waits on the lock: cancel it, so it fails holding the first batch, the second gathered meanwhile.
    const waitingFold = `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`;
    for (let tries = 0; (await q(waitingFold)).length === 0; tries++) {
      assert.ok(tries < 200, 'the fold never waited on the lock');
      await new Promise((r) => setTimeout(r, 25));
    }
    await q(`SELECT pg_cancel_backend(pid) FROM (${waitingFold}) AS w`);
    await failing;
    await locker.query('ROLLBACK');
  } finally {
    locker.release();
  }
  assert.equal((await m.foldRuns.get()).values.find((v) => v.labels.outcome === 'failed')?.value, 1);
  assert.equal(await rollupRows('DS'), 0);
  assert.equal(await pendingCount(pool), 2);

  await handler.handle([testTask(third)]);
  await fold.flush();
  assert.equal(await pendingCount(pool), 0);
  assert.deepEqual(await mismatches('DS', 'rollups_1m'), []);
  assert.deepEqual(await mismatches('DS', 'rollups_1h_all'), []);
  const stored = [...first, ...second, ...third];
  const perSeries = new Map<string, number>();
  for (const r of stored)
    perSeries.set(`${r.device_id} ${r.metric}`, (perSeries.get(`${r.device_id} ${r.metric}`) ?? 0) + 1);
  const samples = await q<{ series: string; samples: number }>(
    `SELECT device_id || ' ' || metric AS series, samples FROM outlier_state WHERE device_id LIKE 'DS-%'`,
  );
  assert.deepEqual(
    new Map(samples.map((s) => [s.series, Number(s.samples)])),
    perSeries,
    'each series’ readings through its own outlier state, once',
  );
  for (const [device, metric] of [
    ['DS-0', 'temperature'], // newest in the third batch
    ['DS-9', 'pressure'], // newest in the second, gathered on the new index
    ['DS-8', 'temperature'],
  ] as const) {
    const newest = newestOf(stored.filter((r) => r.device_id === device && r.metric === metric));
    const cached = await latest.get(device, metric);
    assert.deepEqual([cached?.event_id, cached?.value], [newest.event_id, newest.value], `${device} ${metric}`);
  }
});
