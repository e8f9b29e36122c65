import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { pino } from 'pino';
import { PostgresServer } from '@telemetryhub/testkit';
import { Readiness, createMetricsRegistry, hashApiKey, parseApiKeys } from '@telemetryhub/service-kit';
import { type Reading } from '@telemetryhub/schemas';
import { createApp, type ProcessorAppDeps } from '../app.js';
import { migrate } from '@telemetryhub/migrations';
import { listExpiredReadings } from './expired.repo.js';
import { createProcessorMetrics, type ProcessorMetrics } from '../metrics/processor-metrics.js';
import { createTelemetryHandler } from '../handlers/telemetry.handler.js';
import { freshDatabase, testReading, testTask } from '../app.test-support.js';
import { EXPIRED_REPLAY_LOCK_KEY, ExpiredReplayer } from './expired-replay.js';

const log = pino({ level: 'silent' });
const DAY = 86_400_000;
const NOW = Date.parse('2026-11-23T12:00:00Z');
let server: PostgresServer;

before(async () => {
  server = await PostgresServer.start();
});
after(async () => {
  await server.stop();
});

const daysAgo = (days: number) => new Date(NOW - days * DAY).toISOString();
const reading = (device: string, iso: string, value: number): Reading =>
  testReading({ event_id: randomUUID(), device_id: device, metric: 'temperature', event_time: iso, value });
const metricsFor = () =>
  createProcessorMetrics(
    createMetricsRegistry({ service: 'telemetryhub-task-processor', version: 't', defaultMetrics: false }),
  );
const handlerWith = (pool: pg.Pool, metrics: ProcessorMetrics, horizonDays: number, observe = true) =>
  createTelemetryHandler({
    pool,
    log,
    metrics,
    expiryHorizonMs: horizonDays * DAY,
    now: () => NOW,
    observeVisibleLatency: observe,
  });
const replayerWith = (pool: pg.Pool, metrics: ProcessorMetrics, horizonDays: number) =>
  new ExpiredReplayer({ pool, metrics, log, pageSize: 2, handler: handlerWith(pool, metrics, horizonDays, false) });

/** Raw rows, and whether every rollup bucket equals a recomputation from them (count and sum). */
async function stored(pool: pg.Pool): Promise<{ values: number[]; rollupsMatchRaw: boolean; rolledCount: number }> {
  const { rows } = await pool.query<{ value: number }>('SELECT value FROM readings ORDER BY value');
  const { rows: diff } = await pool.query<{ n: string }>(`
    WITH recomputed AS (
      SELECT device_id, metric, date_trunc('minute', event_time) AS bucket, count(*) AS count, sum(value) AS sum
        FROM readings GROUP BY 1, 2, 3)
    SELECT count(*) AS n FROM recomputed r FULL JOIN rollups_1m m USING (device_id, metric, bucket)
     WHERE r.count IS DISTINCT FROM m.count OR r.sum IS DISTINCT FROM m.sum`);
  const { rows: rolled } = await pool.query<{ n: string | null }>('SELECT sum(count) AS n FROM rollups_1m');
  return {
    values: rows.map((r) => r.value),
    rollupsMatchRaw: Number(diff[0]!.n) === 0,
    rolledCount: Number(rolled[0]!.n ?? 0),
  };
}

test('a replay after the horizon grew stores what now fits, exactly once, and leaves the rest', async () => {
  const pool = await freshDatabase(server.url, 'expired_replay', log);
  try {
    await migrate(pool, log);
    const metrics = metricsFor();
    // Live with a 30-day horizon: two readings stored, four go to the side output.
    await handlerWith(pool, metrics, 30).handle([
      testTask([
        reading('dev-a', daysAgo(0.01), 1),
        reading('dev-b', daysAgo(10), 2),
        reading('dev-a', daysAgo(40), 40),
        reading('dev-b', daysAgo(41), 41),
        reading('dev-a', daysAgo(45), 45),
        reading('dev-a', daysAgo(100), 100),
      ]),
    ]);
    assert.equal((await listExpiredReadings(pool, { limit: 10 })).total, 4);
    const observedBefore = (await metrics.eventVisibleLatency.get()).values.find((v) =>
      v.metricName?.endsWith('_count'),
    )?.value;
    assert.equal(observedBefore, 2, 'the two readings stored live were observed');

    // The horizon is now 60 days: three of the four fit.
    const replayer = replayerWith(pool, metrics, 60);
    assert.deepEqual(await replayer.replay({ limit: 100 }), { examined: 4, replayed: 3, stillExpired: 1 });
    let now = await stored(pool);
    assert.deepEqual(now.values, [1, 2, 40, 41, 45]);
    assert.ok(now.rollupsMatchRaw, 'rollups equal a recomputation from raw rows');
    const left = await listExpiredReadings(pool, { limit: 10 });
    assert.deepEqual(
      left.items.map((i) => i.reading.value),
      [100],
    );
    assert.equal((await metrics.expiredReplayed.get()).values[0]?.value, 3);
    const observedAfter = (await metrics.eventVisibleLatency.get()).values.find((v) =>
      v.metricName?.endsWith('_count'),
    )?.value;
    assert.equal(observedAfter, observedBefore, 'replayed months-old readings are not event-to-visible latency');

    // Again: nothing new, nothing doubled.
    assert.deepEqual(await replayer.replay({ limit: 100 }), { examined: 1, replayed: 0, stillExpired: 1 });
    now = await stored(pool);
    assert.equal(now.rolledCount, 5);
    assert.ok(now.rollupsMatchRaw);
  } finally {
    await pool.end();
  }
});

test('a replay cut off between storing a page and deleting it counts nothing twice when run again', async () => {
  const pool = await freshDatabase(server.url, 'expired_replay_cut', log);
  try {
    await migrate(pool, log);
    const metrics = metricsFor();
    const old = [reading('dev-a', daysAgo(40), 40), reading('dev-a', daysAgo(40.5), 41)];
    await handlerWith(pool, metrics, 30).handle([testTask(old)]);
    // What a replay does before it deletes: the page is stored and folded, the side output still holds it.
    await handlerWith(pool, metrics, 60).handle([testTask(old)]);
    assert.equal((await listExpiredReadings(pool, { limit: 10 })).total, 2);

    assert.deepEqual(await replayerWith(pool, metrics, 60).replay({ limit: 100 }), {
      examined: 2,
      replayed: 2,
      stillExpired: 0,
    });
    const now = await stored(pool);
    assert.equal(now.rolledCount, 2);
    assert.ok(now.rollupsMatchRaw);
    assert.equal((await listExpiredReadings(pool, { limit: 10 })).total, 0);
  } finally {
    await pool.end();
  }
});

test('POST /v1/expired-readings/replay: an admin key, by device, a bad limit is a 400 naming it, a second replay at once is a 409', async () => {
  const pool = await freshDatabase(server.url, 'expired_replay_http', log);
  const metrics = metricsFor();
  /** The processor's API over this pool, listening, with these keys; returns the replay URL. */
  const serve = async (keys: Partial<ProcessorAppDeps>) => {
    const app = createApp({
      log,
      pool,
      readiness: new Readiness(),
      registry: createMetricsRegistry({ service: 't', version: 't', defaultMetrics: false }),
      expiredReplayer: replayerWith(pool, metrics, 60),
      ...keys,
    });
    const listening = app.listen(0, '127.0.0.1');
    await once(listening, 'listening');
    const address = `http://127.0.0.1:${(listening.address() as AddressInfo).port}/v1/expired-readings/replay`;
    return { http: listening, url: address };
  };
  const { http, url } = await serve({
    adminKeys: parseApiKeys(`ops:${hashApiKey('admin-key-1234567890')}`),
    queryKeys: parseApiKeys(`dash:${hashApiKey('read-key-1234567890')}`),
  });
  const post = (body: unknown, key = 'admin-key-1234567890') =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify(body),
    });
  try {
    await migrate(pool, log);
    // It writes: a read-only key is refused, as is no key.
    assert.equal((await post({}, 'read-key-1234567890')).status, 401);
    assert.equal((await fetch(url, { method: 'POST' })).status, 401);
    // Without ADMIN_API_KEYS the replay is off.
    const closed = await serve({});
    const off = await fetch(closed.url, { method: 'POST' });
    await new Promise((r) => closed.http.close(r));
    assert.equal(off.status, 403);
    await handlerWith(pool, metrics, 30).handle([
      testTask([reading('dev-a', daysAgo(40), 40), reading('dev-b', daysAgo(40), 41)]),
    ]);

    const mine = await post({ device: 'dev-b' });
    assert.equal(mine.status, 200);
    assert.deepEqual(await mine.json(), { examined: 1, replayed: 1, still_expired: 0 });
    assert.deepEqual((await stored(pool)).values, [41]);

    const bad = await post({ limit: 0 });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get('content-type')?.split(';')[0], 'application/problem+json');
    assert.deepEqual(
      ((await bad.json()) as { errors: Array<{ path: string }> }).errors.map((e) => e.path),
      ['limit'],
    );

    const holder = await pool.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [EXPIRED_REPLAY_LOCK_KEY.toString()]);
      const busy = await post({});
      assert.equal(busy.status, 409);
      await holder.query('SELECT pg_advisory_unlock($1)', [EXPIRED_REPLAY_LOCK_KEY.toString()]);
    } finally {
      holder.release();
    }
    assert.deepEqual(await (await post({})).json(), { examined: 1, replayed: 1, still_expired: 0 });
    // The older spelling of the path still replays, and answers with the key it always had.
    const old = await fetch(url.replace('/expired-readings/', '/late-readings/'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'admin-key-1234567890' },
      body: '{}',
    });
    assert.equal(old.headers.get('deprecation'), 'true');
    assert.deepEqual(await old.json(), { examined: 0, replayed: 0, still_late: 0 });
    assert.equal((await fetch(url.replace('/expired-readings/', '/late-readings/'), { method: 'POST' })).status, 401);
  } finally {
    await new Promise((r) => http.close(r));
    await pool.end();
  }
});

test('a replayed reading past an alert threshold is stored and rolled up but raises no alert (old news)', async () => {
  const pool = await freshDatabase(server.url, 'expired_replay_alerts', log);
  try {
    await migrate(pool, log);
    const metrics = metricsFor();
    const alerts = async () => Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM alerts')).rows[0]!.n);
    // 95 °C is past the default temperature threshold (80): live, it fires.
    await handlerWith(pool, metrics, 30).handle([testTask([reading('dev-live', daysAgo(0.01), 95)])]);
    assert.equal(await alerts(), 1, 'the same value fires live');
    await handlerWith(pool, metrics, 30).handle([testTask([reading('dev-old', daysAgo(40), 95)])]);

    assert.deepEqual(await replayerWith(pool, metrics, 60).replay({ limit: 10 }), {
      examined: 1,
      replayed: 1,
      stillExpired: 0,
    });
    assert.deepEqual((await stored(pool)).values, [95, 95]);
    assert.equal(await alerts(), 1, 'no alert for the replayed reading');
  } finally {
    await pool.end();
  }
});
