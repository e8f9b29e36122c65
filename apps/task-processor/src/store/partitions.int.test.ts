import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import type { Counter } from 'prom-client';
import { pino } from 'pino';
import { PostgresServer } from '@telemetryhub/testkit';
import { Readiness, createMetricsRegistry } from '@telemetryhub/service-kit';
import { type Reading } from '@telemetryhub/schemas';
import { createApp } from '../app.js';
import { loadMigrations, migrate } from '@telemetryhub/migrations';
import { PARTITIONED_TABLES, PartitionManager, listPartitions } from './partitions.js';
import { RETENTION_LOCK_KEY, runPartitionUpkeep } from './retention.js';
import { listExpiredReadings } from '../expired/expired.repo.js';
import { writeRollups } from './rollup.repo.js';
import { MinuteBuckets } from './rollup-buckets.js';
import { createProcessorMetrics } from '../metrics/processor-metrics.js';
import { partitionMetrics } from './partition-upkeep.js';
import { PartitionUpkeep } from './partition-upkeep.js';
import { createTelemetryHandler } from '../handlers/telemetry.handler.js';
import { EventTimeWatermarks } from '../late/event-time-watermark.js';
import { freshDatabase, testReading, testTask } from '../app.test-support.js';

const log = pino({ level: 'silent' });
const DAY = 86_400_000;
let server: PostgresServer;

before(async () => {
  server = await PostgresServer.start();
});
after(async () => {
  await server.stop();
});

/** A fresh database per test (tests here create and drop partitions). */
const freshDb = (name: string) => freshDatabase(server.url, name, log);

const reading = (device: string, iso: string, value = 1): Reading =>
  testReading({ event_id: randomUUID(), device_id: device, metric: 'temperature', event_time: iso, value });
const task = testTask;
const metricsFor = () =>
  createProcessorMetrics(
    createMetricsRegistry({ service: 'telemetryhub-task-processor', version: 't', defaultMetrics: false }),
  );
const counted = async (c: Counter, labels: Record<string, string> = {}) =>
  (await c.get()).values
    .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
    .reduce((sum, v) => sum + v.value, 0);
const names = async (pool: pg.Pool, table: keyof typeof PARTITIONED_TABLES) =>
  (await listPartitions(pool, PARTITIONED_TABLES[table])).map((p) => p.name);

test('migrations 5 and 6 move existing readings and rollups into partitions, nothing lost; old buckets have no m2', async () => {
  const pool = await freshDb('migrate_existing');
  try {
    const MIGRATIONS = loadMigrations();
    await migrate(pool, log, { migrations: MIGRATIONS.slice(0, 4) });
    await pool.query(`INSERT INTO readings (event_id, device_id, metric, event_time, value, schema_version)
                      VALUES ('00000000-0000-4000-8000-000000000001', 'd', 't', '2026-01-31T23:59:59Z', 1, 3),
                             ('00000000-0000-4000-8000-000000000002', 'd', 't', '2026-02-01T00:00:00Z', 2, 3)`);
    await pool.query(`INSERT INTO rollups_1m VALUES ('d', 't', '2026-01-31T23:59:00Z', 1, 1, 1, 1),
                                                    ('d', 't', '2026-02-01T00:00:00Z', 1, 2, 2, 2)`);
    await pool.query(`INSERT INTO rollups_1h VALUES ('d', 't', '2026-01-31T23:00:00Z', 1, 1, 1, 1)`);
    assert.deepEqual((await migrate(pool, log, { migrations: MIGRATIONS.slice(0, 6) })).applied, [5, 6]);

    const { rows } = await pool.query<{ part: string; value: number }>(
      'SELECT tableoid::regclass::text AS part, value FROM readings ORDER BY value',
    );
    assert.deepEqual(rows, [
      { part: 'readings_p20260131', value: 1 },
      { part: 'readings_p20260201', value: 2 },
    ]);
    assert.deepEqual(await names(pool, 'rollups_1m'), ['rollups_1m_p202601', 'rollups_1m_p202602']);
    assert.deepEqual(await names(pool, 'rollups_1h'), ['rollups_1h_p202601']);
    // the raw key is now (event_id, event_time): the same event again is still skipped
    const again =
      await pool.query(`INSERT INTO readings (event_id, device_id, metric, event_time, value, schema_version)
      VALUES ('00000000-0000-4000-8000-000000000001', 'd', 't', '2026-01-31T23:59:59Z', 1, 3)
      ON CONFLICT (event_id, event_time) DO NOTHING`);
    assert.equal(again.rowCount, 0);
    // A bucket folded before migration 6 has no m2, and a reading folded into it later (by today's code, on
    // today's schema: its hour sealed, as every hour before the upgrade is) does not invent one.
    await migrate(pool, log);
    const client = await pool.connect();
    try {
      await writeRollups(
        client,
        MinuteBuckets.of([reading('d', '2026-01-31T23:59:30Z', 4)].map((r) => ({ ...r, metric: 't' }))),
      );
    } finally {
      client.release();
    }
    const { rows: buckets } = await pool.query<{ count: string; m2: number | null }>(
      `SELECT count, m2 FROM rollups_1m WHERE bucket = '2026-01-31T23:59:00Z'
       UNION ALL SELECT count, m2 FROM rollups_1h`,
    );
    assert.deepEqual(buckets, [
      { count: '2', m2: null },
      { count: '2', m2: null },
    ]);
  } finally {
    await pool.end();
  }
});

test('the handler creates the partitions its rows need, and sets readings beyond the horizon aside in expired_readings once', async () => {
  const pool = await freshDb('handler_partitions');
  try {
    await migrate(pool, log);
    const metrics = metricsFor();
    const now = Date.parse('2026-11-23T12:00:00Z');
    const handler = createTelemetryHandler({ pool, log, metrics, expiryHorizonMs: 30 * DAY, now: () => now });
    const batch = [
      task([
        reading('dev-a', '2026-11-23T11:59:00Z', 10),
        reading('dev-a', '2026-10-30T08:00:00Z', 20), // 24.2 days old: stored, in October's partitions
        reading('dev-a', '2026-10-01T08:00:00Z', 30), // 53 days old: beyond the 30-day horizon
      ]),
    ];
    await handler.handle(batch);
    await handler.handle(batch); // a retry or a resend: nothing new anywhere

    assert.deepEqual(await names(pool, 'readings'), ['readings_p20261030', 'readings_p20261123']);
    assert.deepEqual(await names(pool, 'rollups_1m'), ['rollups_1m_p202610', 'rollups_1m_p202611']);
    const { rows: raw } = await pool.query<{ value: number }>('SELECT value FROM readings ORDER BY value');
    assert.deepEqual(
      raw.map((r) => r.value),
      [10, 20],
    );
    const { rows: rolled } = await pool.query<{ n: string }>('SELECT sum(count) AS n FROM rollups_1m');
    assert.equal(Number(rolled[0]!.n), 2, 'the expired reading is in no rollup');
    const expired = await listExpiredReadings(pool, { limit: 10 });
    assert.equal(expired.total, 1);
    assert.equal(expired.items[0]!.reason, 'beyond_horizon');
    assert.equal(expired.items[0]!.event_time, '2026-10-01T08:00:00.000Z');
    assert.equal(expired.items[0]!.reading.value, 30, 'the whole reading is kept, to be replayed');
    assert.equal(expired.items[0]!.task_id, batch[0]!.header.id);
    assert.equal(await counted(metrics.expiredReadings, { reason: 'beyond_horizon' }), 1);
    assert.equal(await counted(metrics.partitionsCreated), 2 + 2 + 2);

    // … and the API shows the side output, by device, and names a bad parameter
    const app = createApp({
      log,
      pool,
      readiness: new Readiness(),
      registry: createMetricsRegistry({ service: 't', version: 't', defaultMetrics: false }),
    });
    const http = app.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const base = `${origin}/v1/expired-readings`;
    try {
      const answer = await fetch(`${base}?device=dev-a`);
      assert.equal(answer.headers.get('deprecation'), null);
      const mine = (await answer.json()) as { total: number; expired_readings: unknown[] };
      assert.equal(mine.total, 1);
      assert.equal(mine.expired_readings.length, 1);
      // The older spelling still answers as it did, marked deprecated with a link to the new path.
      const old = await fetch(`${origin}/v1/late-readings?device=dev-a`);
      assert.equal(old.headers.get('deprecation'), 'true');
      assert.equal(old.headers.get('link'), '</v1/expired-readings>; rel="successor-version"');
      assert.deepEqual(await old.json(), { total: 1, late_readings: mine.expired_readings });
      const others = (await (await fetch(`${base}?device=dev-b`)).json()) as { total: number };
      assert.equal(others.total, 0);
      const bad = await fetch(`${base}?limit=0`);
      assert.equal(bad.status, 400);
      assert.deepEqual(
        ((await bad.json()) as { errors: Array<{ path: string }> }).errors.map((e) => e.path),
        ['limit'],
      );
    } finally {
      await new Promise((r) => http.close(r));
    }
  } finally {
    await pool.end();
  }
});

test('a reading behind its device’s watermark still corrects its rollup, and is counted as a late correction', async () => {
  const pool = await freshDb('late_corrections');
  try {
    await migrate(pool, log);
    const metrics = metricsFor();
    const handler = createTelemetryHandler({ pool, log, metrics, watermarks: new EventTimeWatermarks(30_000) });
    await handler.handle([task([reading('dev-a', '2026-11-23T10:05:00Z', 4)])]);
    await handler.handle([task([reading('dev-a', '2026-11-23T10:04:40Z', 2)])]); // 20 s behind: on time
    await handler.handle([
      task([reading('dev-a', '2026-11-23T10:01:10Z', 6), reading('dev-b', '2026-11-23T09:00:00Z', 1)]),
    ]);
    assert.equal(await counted(metrics.lateCorrections), 1, 'only dev-a’s reading 3 min 50 s behind is late');
    const { rows } = await pool.query<{ bucket: string; count: string; sum: number }>(
      `SELECT to_char(bucket AT TIME ZONE 'UTC', 'HH24:MI') AS bucket, count, sum FROM rollups_1m
        WHERE device_id = 'dev-a' ORDER BY bucket`,
    );
    assert.deepEqual(
      rows.map((r) => [r.bucket, Number(r.count), r.sum]),
      [
        ['10:01', 1, 6],
        ['10:04', 1, 2],
        ['10:05', 1, 4],
      ],
    );
  } finally {
    await pool.end();
  }
});

test('upkeep creates partitions ahead and drops whole expired ones; one replica at a time', async () => {
  const pool = await freshDb('retention');
  try {
    await migrate(pool, log);
    const now = Date.parse('2026-11-23T12:00:00Z');
    const metrics = metricsFor();
    const partitions = new PartitionManager(pool, partitionMetrics(metrics));
    const handler = createTelemetryHandler({ pool, log, metrics, partitions });
    // A DBA's own partition (another naming) for an expired range: never ours to drop.
    await pool.query(`CREATE TABLE readings_archive_oct01 PARTITION OF readings
                        FOR VALUES FROM ('2026-10-01T00:00:00Z') TO ('2026-10-02T00:00:00Z')`);
    // rows 40, 31, 29 days old and today (31 days old: its day ended 30.5 days ago)
    await handler.handle([
      task([
        reading('d', new Date(now - 40 * DAY).toISOString()),
        reading('d', new Date(now - 31 * DAY).toISOString()),
        reading('d', new Date(now - 29 * DAY).toISOString()),
        reading('d', new Date(now).toISOString()),
      ]),
    ]);

    const other = await pool.connect();
    try {
      await other.query('SELECT pg_advisory_lock($1)', [RETENTION_LOCK_KEY.toString()]);
      const policy = { rawDays: 30, rollupDays: 60, aheadDays: 2, dropLockTimeoutMs: 5000 };
      assert.equal(await runPartitionUpkeep(pool, partitions, policy, now), null, 'another replica holds the lock');
      await other.query('SELECT pg_advisory_unlock($1)', [RETENTION_LOCK_KEY.toString()]);

      // Per-batch statistics of a task stamped 40 days ago: kept as long as raw readings.
      await partitions.ensure(PARTITIONED_TABLES.task_statistics, [now - 40 * DAY]);
      const result = await runPartitionUpkeep(pool, partitions, policy, now);
      assert.ok(result);
      assert.deepEqual(result.dropped.sort(), [
        'readings_p20261014',
        'readings_p20261023',
        'task_statistics_p20261014',
      ]);
      assert.deepEqual(result.created.sort(), [
        'readings_p20261124',
        'readings_p20261125',
        'task_statistics_p20261123',
        'task_statistics_p20261124',
        'task_statistics_p20261125',
      ]);
      assert.deepEqual(await names(pool, 'readings'), [
        'readings_p20261025',
        'readings_p20261123',
        'readings_p20261124',
        'readings_p20261125',
      ]);
      const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM readings');
      assert.equal(Number(rows[0]!.n), 2);
      const { rows: foreign } = await pool.query<{ kept: boolean }>(
        `SELECT to_regclass('readings_archive_oct01') IS NOT NULL AS kept`,
      );
      assert.equal(foreign[0]!.kept, true, 'a partition named otherwise is left alone');
      assert.equal(await counted(metrics.partitionsDropped, { table: 'readings' }), 2);
      // rollups are kept 60 days here: October's month partitions stay
      assert.deepEqual(await names(pool, 'rollups_1m'), ['rollups_1m_p202610', 'rollups_1m_p202611']);
      const later = await runPartitionUpkeep(pool, partitions, policy, now + 62 * DAY);
      assert.ok(later?.dropped.includes('rollups_1m_p202610'));
      assert.ok(later?.dropped.includes('rollups_1h_p202610'));
      assert.equal(await counted(metrics.partitionsDropped, { table: 'rollups_1h' }), 1);
    } finally {
      other.release();
    }
  } finally {
    await pool.end();
  }
});

test('a DROP that cannot get its lock soon gives up (counted as failed) instead of queueing inserts behind it', async () => {
  const pool = await freshDb('upkeep_runs');
  try {
    await migrate(pool, log);
    const metrics = metricsFor();
    const partitions = new PartitionManager(pool, partitionMetrics(metrics));
    const [expired] = await partitions.ensure(PARTITIONED_TABLES.readings, [Date.now() - 40 * DAY]);
    assert.ok(expired);
    const upkeep = new PartitionUpkeep({
      pool,
      partitions,
      policy: { rawDays: 30, rollupDays: 730, aheadDays: 1, dropLockTimeoutMs: 200 },
      intervalMs: 3_600_000,
      metrics,
      log,
    });
    const other = await pool.connect();
    try {
      await other.query('BEGIN');
      await other.query(`LOCK TABLE ${expired} IN ACCESS SHARE MODE`); // as a long reader or insert would
      assert.equal(await upkeep.runOnce(), null);
      assert.equal(await counted(metrics.retentionRuns, { outcome: 'failed' }), 1);
      await other.query('COMMIT');
      await other.query('SELECT pg_advisory_lock($1)', [RETENTION_LOCK_KEY.toString()]);
      assert.equal(await upkeep.runOnce(), null);
      assert.equal(await counted(metrics.retentionRuns, { outcome: 'skipped' }), 1);
      await other.query('SELECT pg_advisory_unlock($1)', [RETENTION_LOCK_KEY.toString()]);
    } finally {
      other.release();
    }
    const done = await upkeep.runOnce();
    assert.deepEqual(done?.dropped, [expired]);
    assert.equal(await counted(metrics.retentionRuns, { outcome: 'done' }), 1);
    assert.equal(await counted(metrics.partitionsDropped, { table: 'readings' }), 1);
  } finally {
    await pool.end();
  }
});

test('a partition dropped under a replica’s cache is created again, not a dead-lettered batch', async () => {
  const pool = await freshDb('stale_cache');
  try {
    await migrate(pool, log);
    const handler = createTelemetryHandler({ pool, log, metrics: metricsFor() });
    await handler.handle([task([reading('d', '2026-11-20T10:00:00Z')])]);
    await pool.query('DROP TABLE readings_p20261120'); // as retention on another replica would
    await handler.handle([task([reading('d', '2026-11-20T11:00:00Z', 7)])]);
    const { rows } = await pool.query<{ value: number }>('SELECT value FROM readings');
    assert.deepEqual(
      rows.map((r) => r.value),
      [7],
    );
  } finally {
    await pool.end();
  }
});
