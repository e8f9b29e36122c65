import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { pino } from 'pino';
import { PostgresServer } from '@telemetryhub/testkit';
import { Readiness, createMetricsRegistry, hashApiKey, parseApiKeys, seededRandom } from '@telemetryhub/service-kit';
import { parseEventsStrict, parseTaskEnvelope } from '@telemetryhub/schemas';
import { createApp, type ProcessorAppDeps } from '../app.js';
import { createPgPool } from '../store/pool.js';
import { migrate } from '@telemetryhub/migrations';
import { createProcessorMetrics } from '../metrics/processor-metrics.js';
import { createTelemetryHandler } from './telemetry.handler.js';
import type { ParsedTask } from '../domain/task.js';
import { createTaskDecoder } from '../decode/task-decoder.js';
import { parseDeviceMetadataFile } from '../devices/device-metadata-file.js';
import { applyDeviceMetadata } from '../devices/devices.repo.js';
import { testReading, testTask } from '../app.test-support.js';

const log = pino({ level: 'silent' });
let server: PostgresServer;
let pool: pg.Pool;

before(async () => {
  server = await PostgresServer.start();
  pool = createPgPool(server.url, { max: 4, statementTimeoutMs: 10_000 }, log);
  await migrate(pool, log);
});
after(async () => {
  await pool.end();
  await server.stop();
});

const newMetrics = () =>
  createProcessorMetrics(
    createMetricsRegistry({ service: 'telemetryhub-task-processor', version: 't', defaultMetrics: false }),
  );
const handler = (metrics = newMetrics()) => createTelemetryHandler({ pool, log, metrics });
const taskFrom = (raw: string): ParsedTask => {
  const { payload, ...header } = parseTaskEnvelope(raw);
  return { raw, header, readings: parseEventsStrict(payload) };
};
const fixture = (name: string, rename?: [string, string]) => {
  const text = readFileSync(new URL(`../../../../fixtures/shapes/${name}.json`, import.meta.url), 'utf8');
  return rename ? text.replaceAll(rename[0], rename[1]) : text;
};
const q = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) =>
  (await pool.query<T>(sql, params)).rows;

/** The processor's API over this file's database, on a free port, while `use` runs. */
async function withApi(use: (base: string) => Promise<void>, more: Partial<ProcessorAppDeps> = {}): Promise<void> {
  const app = createApp({
    log,
    pool,
    readiness: new Readiness(),
    registry: createMetricsRegistry({ service: 'telemetryhub-task-processor', version: 't', defaultMetrics: false }),
    ...more,
  });
  const httpServer = app.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  try {
    await use(`http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`);
  } finally {
    await new Promise((r) => httpServer.close(r));
  }
}

test('each documented fixture has its documented effect: stored, rolled up and/or alerted by task type', async () => {
  const h = handler();
  await h.handle([
    taskFrom(fixture('task-shape-a')),
    taskFrom(fixture('task-shape-b')),
    taskFrom(fixture('task-numeric-priority')),
  ]);
  // shape A (telemetry.analyze): two readings, rolled up, and a temperature alert (85.1 > 80 °C)
  assert.deepEqual(
    await q(`SELECT metric, count::int, sum FROM rollups_1m WHERE device_id = 'sensor_001' ORDER BY metric`),
    [
      { metric: 'humidity', count: 1, sum: 40 },
      { metric: 'temperature', count: 1, sum: 85.1 },
    ],
  );
  assert.deepEqual(await q(`SELECT metric, rule, state, value FROM alerts WHERE device_id = 'sensor_001'`), [
    { metric: 'temperature', rule: 'max', state: 'firing', value: 85.1 },
  ]);
  // shape B (telemetry.aggregate): stored and folded into its 1-minute rollup; aggregate-only, so no alert
  assert.deepEqual(await q(`SELECT count::int, max FROM rollups_1m WHERE device_id = 'sensor_002'`), [
    { count: 1, max: 97.5 },
  ]);
  assert.deepEqual(await q(`SELECT id FROM alerts WHERE device_id = 'sensor_002'`), []);
  // numeric priority (telemetry.alert): stored, a voltage alert (2.61 < 2.8 V), alert-only, so no rollup
  assert.deepEqual(await q(`SELECT metric, rule, value FROM alerts WHERE device_id = 'BESS-07'`), [
    { metric: 'voltage', rule: 'min', value: 2.61 },
  ]);
  assert.deepEqual(await q(`SELECT bucket FROM rollups_1m WHERE device_id = 'BESS-07'`), []);
  assert.equal((await q(`SELECT 1 FROM readings WHERE device_id IN ('sensor_001','sensor_002','BESS-07')`)).length, 4);
});

test('duplicate sends and retries count each event once in rollups and raise no second alert', async () => {
  const metrics = newMetrics();
  const h = handler(metrics);
  const task = fixture('task-shape-a', ['sensor_001', 'DUPE-9']);
  await h.handle([taskFrom(task), taskFrom(task)]);
  await h.handle([taskFrom(task)]);
  // The retry's COPY met its stored rows and went the ON CONFLICT way (the first batch, repeating its event ids,
  // went there at once): counted once.
  assert.equal((await metrics.rawInsertFallbacks.get()).values[0]?.value, 1);
  assert.deepEqual(await q(`SELECT count::int FROM rollups_1m WHERE device_id = 'DUPE-9' ORDER BY metric`), [
    { count: 1 },
    { count: 1 },
  ]);
  assert.deepEqual(await q(`SELECT count::int FROM rollups_1h WHERE device_id = 'DUPE-9' ORDER BY metric`), [
    { count: 1 },
    { count: 1 },
  ]);
  assert.equal((await q(`SELECT id FROM alerts WHERE device_id = 'DUPE-9'`)).length, 1);
});

test('rollups equal a recomputation from the raw rows, with out-of-order, late and duplicate events across batches', async () => {
  const h = handler();
  const random = seededRandom(7);
  const base = Date.parse('2026-03-01T10:00:00Z');
  const events = Array.from({ length: 600 }, (_, i) => ({
    device_id: `ROLL-${i % 3}`,
    timestamp: new Date(base + Math.floor(random() * 3 * 3600_000)).toISOString(), // spread over 3 hours
    temperature: Math.round(random() * 1000) / 10,
  }));
  // Shuffled into batches, with 100 events sent twice: arrival order has nothing to do with event time.
  const sends = [...events, ...events.slice(0, 100)].sort(() => random() - 0.5);
  for (let i = 0; i < sends.length; i += 70) {
    const batch = sends
      .slice(i, i + 70)
      .map((e) => taskFrom(JSON.stringify({ type: 'telemetry.aggregate', payload: e })));
    await h.handle(batch);
  }
  for (const [table, unit] of [
    ['rollups_1m', 'minute'],
    ['rollups_1h', 'hour'],
  ] as const) {
    // The variance, folded batch by batch in arrival order, equals PostgreSQL's own over the raw rows.
    const expected = await q(
      `SELECT device_id, date_trunc('${unit}', event_time) AS bucket, count(*)::int AS count, round(sum(value)::numeric, 6) AS sum,
              min(value) AS min, max(value) AS max, round(coalesce(var_samp(value), 0)::numeric, 6) AS variance
         FROM readings WHERE device_id LIKE 'ROLL-%' GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    const actual = await q(
      `SELECT device_id, bucket, count::int AS count, round(sum::numeric, 6) AS sum, min, max,
              round(CASE WHEN count > 1 THEN m2 / (count - 1) ELSE 0 END::numeric, 6) AS variance
         FROM ${table} WHERE device_id LIKE 'ROLL-%' ORDER BY 1, 2`,
    );
    assert.ok(expected.length > 3);
    assert.deepEqual(actual, expected, table);
  }
});

test('extreme values beside ordinary ones fold into the same buckets without overflow, and the bucket stays usable', async () => {
  const h = handler();
  const minute = '2026-03-02T10:15:00.000Z';
  const at = (s: number) => new Date(Date.parse(minute) + s * 1000).toISOString();
  const extreme = [1e100, -1e100, 1e100, 0.001, 21.5, -3];
  // Two batches in the same minute: the second merges into the first's stored bucket (δ² of ~1e200 each time).
  for (const [i, values] of [extreme.slice(0, 3), extreme.slice(3)].entries()) {
    await h.handle([
      testTask(
        values.map((value, j) => testReading({ device_id: 'EXTREME', metric: 'm', event_time: at(i * 10 + j), value })),
      ),
    ]);
  }
  // A later, ordinary batch in the same bucket: stored, and folded.
  await h.handle([testTask([testReading({ device_id: 'EXTREME', metric: 'm', event_time: at(40), value: 7 })])]);
  for (const table of ['rollups_1m', 'rollups_1h']) {
    const [row] = await q<{ count: string; sum: number; min: number; max: number; m2: number }>(
      `SELECT count, sum, min, max, m2 FROM ${table} WHERE device_id = 'EXTREME'`,
    );
    const values = [...extreme, 7];
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const m2 = values.reduce((a, v) => a + (v - mean) ** 2, 0);
    assert.equal(Number(row!.count), values.length, table);
    assert.equal(row!.min, -1e100);
    assert.equal(row!.max, 1e100);
    assert.ok(Math.abs(row!.m2 - m2) / m2 < 1e-9, `${table}: m2 ${row!.m2} vs ${m2}`);
  }
});

test('a bucket stored out of the storable magnitude (before the bound) takes new readings; its spread becomes unknown', async () => {
  const h = handler();
  const reading = (second: number, value: number) =>
    testReading({ device_id: 'LEGACY', metric: 'm', event_time: `2026-03-02T11:00:${second}.000Z`, value });
  await h.handle([testTask([reading(10, 1)])]);
  // What an earlier version could store: a value of 1e200 alone in its bucket.
  await pool.query(`UPDATE rollups_1m SET sum = 1e200, min = 1e200, max = 1e200, m2 = 0 WHERE device_id = 'LEGACY'`);
  await h.handle([testTask([reading(20, 2)])]); // δ² = 1e400 would overflow float8: not computed
  await h.handle([testTask([reading(30, 3)])]);
  const [row] = await q<{ count: string; m2: number | null }>(
    `SELECT count, m2 FROM rollups_1m WHERE device_id = 'LEGACY'`,
  );
  assert.equal(Number(row!.count), 3);
  assert.equal(row!.m2, null);
  assert.equal((await q(`SELECT 1 FROM readings WHERE device_id = 'LEGACY'`)).length, 3);
});

test('an alert fires, holds inside the hysteresis band, resolves past it, and can fire again', async () => {
  const m = createProcessorMetrics(
    createMetricsRegistry({ service: 'telemetryhub-task-processor', version: 't', defaultMetrics: false }),
  );
  const h = createTelemetryHandler({ pool, log, metrics: m });
  const at = (second: number, value: number) =>
    taskFrom(
      JSON.stringify({
        type: 'telemetry.alert',
        payload: { device_id: 'HYST-1', timestamp: 1767000000 + second, temperature: value },
      }),
    );
  for (const [s, v] of [
    [0, 85],
    [10, 79],
    [20, 81],
    [30, 77.5],
    [40, 83],
  ] as const) {
    await h.handle([at(s, v)]);
  }
  assert.deepEqual(await q(`SELECT state, value, resolved_value FROM alerts WHERE device_id = 'HYST-1' ORDER BY id`), [
    { state: 'resolved', value: 85, resolved_value: 77.5 },
    { state: 'firing', value: 83, resolved_value: null },
  ]);
  const counted = (await m.alerts.get()).values.map((v) => [v.labels.action, v.value]).sort();
  assert.deepEqual(counted, [
    ['fire', 2],
    ['resolve', 1],
  ]);
});

test('outliers: one alert per excursion from the running statistics, duplicates folded once, two replicas at once', async () => {
  const outliers = { z: 4, resolveZ: 2, alpha: 0.05, minSamples: 30 };
  const metrics = () =>
    createProcessorMetrics(
      createMetricsRegistry({ service: 'telemetryhub-task-processor', version: 't', defaultMetrics: false }),
    );
  // Two handlers on one database, as two processor replicas would be.
  const h1 = createTelemetryHandler({ pool, log, metrics: metrics(), outliers });
  const h2 = createTelemetryHandler({ pool, log, metrics: metrics(), outliers });
  const random = seededRandom(21);
  const base = Date.parse('2026-04-01T00:00:00Z');
  const values = [
    ...Array.from({ length: 120 }, () => 50 + random() - 0.5),
    80,
    ...Array.from({ length: 20 }, () => 50 + random() - 0.5),
  ];
  const tasks = values.map((v, i) =>
    taskFrom(
      JSON.stringify({
        type: 'telemetry.alert',
        payload: { device_id: 'OUT-1', timestamp: new Date(base + i * 1000).toISOString(), pressure: v },
      }),
    ),
  );
  // In order, in batches of 10 split between the two replicas running at the same time; every batch sent twice.
  for (let i = 0; i < tasks.length; i += 20) {
    const a = tasks.slice(i, i + 10);
    const b = tasks.slice(i + 10, i + 20);
    await h1.handle(a);
    await Promise.all([h1.handle(b), h2.handle(b), h2.handle(a)]);
  }
  assert.deepEqual(
    await q(`SELECT rule, threshold, state, value, resolved_value IS NOT NULL AS resolved
               FROM alerts WHERE device_id = 'OUT-1' ORDER BY fired_at`),
    [{ rule: 'outlier', threshold: 4, state: 'resolved', value: 80, resolved: true }],
  );
  const [state] = await q<{ samples: string }>(`SELECT samples FROM outlier_state WHERE device_id = 'OUT-1'`);
  assert.equal(Number(state!.samples), values.length, 'each reading folded exactly once');
});

test('the API serves rollup series and alerts, and names a bad parameter in a 400', async () => {
  await withApi(async (base) => {
    const get = async (path: string) => {
      const res = await fetch(base + path);
      return {
        status: res.status,
        body: (await res.json()) as Record<string, unknown> & { errors?: Array<{ path: string }> },
      };
    };
    const series = await get(
      '/v1/devices/ROLL-1/metrics/temperature/rollups?granularity=1h&from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z',
    );
    assert.equal(series.status, 200);
    const buckets = series.body.buckets as Array<{ bucket: string; count: number; sum: number; avg: number }>;
    const raw = await q<{ n: number }>(`SELECT count(*)::int AS n FROM readings WHERE device_id = 'ROLL-1'`);
    assert.equal(
      buckets.reduce((n, b) => n + b.count, 0),
      raw[0]!.n,
      'the series covers every stored reading',
    );
    assert.ok(buckets.every((b) => Math.abs(b.avg - b.sum / b.count) < 1e-9));
    const spread = await q<{ bucket: Date; sd: number }>(
      `SELECT date_trunc('hour', event_time) AS bucket, stddev_samp(value) AS sd
         FROM readings WHERE device_id = 'ROLL-1' GROUP BY 1 ORDER BY 1`,
    );
    assert.deepEqual(
      buckets.map((b) => (b as unknown as { stddev: number }).stddev.toFixed(9)),
      spread.map((s) => s.sd.toFixed(9)),
      'each bucket’s standard deviation is the raw rows’ own',
    );
    assert.match(buckets[0]!.bucket, /^2026-03-01T10:00:00Z$/);

    const firing = await get('/v1/alerts?state=firing&device=sensor_001');
    assert.deepEqual(
      (firing.body.alerts as Array<{ metric: string; value: number }>).map((a) => [a.metric, a.value]),
      [['temperature', 85.1]],
    );

    const badGranularity = await get('/v1/devices/ROLL-1/metrics/temperature/rollups?granularity=5m');
    assert.equal(badGranularity.status, 400);
    assert.deepEqual(
      badGranularity.body.errors?.map((e) => e.path),
      ['granularity'],
    );
    const badWindow = await get(
      '/v1/devices/ROLL-1/metrics/temperature/rollups?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z',
    );
    assert.deepEqual(
      badWindow.body.errors?.map((e) => e.path),
      ['from'],
    );
    const badLimit = await get('/v1/alerts?limit=0');
    assert.deepEqual(
      badLimit.body.errors?.map((e) => e.path),
      ['limit'],
    );
  });
});

test('telemetry.analyze stores each batch’s per-metric statistics once, as decoding computed them; the API serves them', async () => {
  const decode = createTaskDecoder();
  const task = (type: string, id: string, devices: string) => {
    const readings = Array.from({ length: 12 }, (_, i) => ({
      event_id: `00000000-0000-4000-8000-${id.slice(-4)}${String(i).padStart(8, '0')}`,
      device_id: `${devices}-${i % 3}`,
      metric: i % 2 ? 'humidity' : 'temperature',
      value: 20 + i * 1.5,
      event_time: new Date(Date.UTC(2026, 2, 1, 12, 0, i)).toISOString(),
    }));
    const raw = JSON.stringify({ id, type, created_at: new Date().toISOString(), payload: { readings } });
    const d = decode(raw);
    assert.equal(d.kind, 'ok');
    return { raw, header: d.header, readings: d.readings, ...(d.statistics ? { statistics: d.statistics } : {}) };
  };
  const analyzed = task('telemetry.analyze', 'stats-task-0001', 'STAT');
  const stored = task('telemetry.store', 'stats-task-0002', 'KEPT');
  assert.equal(stored.statistics, undefined, 'only telemetry.analyze tasks get statistics');
  const metrics = newMetrics();
  await handler(metrics).handle([analyzed, stored]);
  await handler(metrics).handle([analyzed]); // a retry of the same task
  const rows = await q<{
    task_id: string;
    metric: string;
    readings: number;
    devices: number;
    min: number;
    max: number;
    mean: number;
    stddev: number;
  }>(
    `SELECT task_id, metric, readings, devices, min, max, mean, stddev FROM task_statistics
      WHERE task_id LIKE 'stats-task-%' ORDER BY metric`,
  );
  const expected = await q<{
    metric: string;
    n: number;
    devices: number;
    min: number;
    max: number;
    mean: number;
    sd: number;
  }>(
    `SELECT metric, count(*)::int AS n, count(DISTINCT device_id)::int AS devices, min(value), max(value),
            avg(value) AS mean, stddev_samp(value) AS sd
       FROM readings WHERE device_id LIKE 'STAT-%' GROUP BY metric ORDER BY metric`,
  );
  assert.deepEqual(
    rows.map((r) => [r.task_id, r.metric, r.readings, r.devices, r.min, r.max, r.mean.toFixed(9), r.stddev.toFixed(9)]),
    expected.map((e) => [
      'stats-task-0001',
      e.metric,
      e.n,
      e.devices,
      e.min,
      e.max,
      e.mean.toFixed(9),
      e.sd.toFixed(9),
    ]),
    'one row per metric of the analyzed task, equal to the stored readings’ own aggregates; none for the store task',
  );
  const written = (await metrics.dbRowsWritten.get()).values.find((v) => v.labels.table === 'task_statistics');
  assert.equal(written?.value, 2, 'the retry added nothing');

  await withApi(async (base) => {
    const found = await fetch(`${base}/v1/tasks/stats-task-0001/statistics`);
    assert.equal(found.status, 200);
    const body = (await found.json()) as { task_id: string; metrics: Array<{ metric: string; readings: number }> };
    assert.deepEqual(
      body.metrics.map((m) => [m.metric, m.readings]),
      [
        ['humidity', 6],
        ['temperature', 6],
      ],
    );
    const missing = await fetch(`${base}/v1/tasks/stats-task-0002/statistics`);
    assert.equal(missing.status, 404);
    assert.match(((await missing.json()) as { detail: string }).detail, /only telemetry\.analyze tasks/);
  });
});

test('devices: each stored device’s span and newest labels, rewritten only when something moved; metadata from the file; the API lists and finds them', async () => {
  const metrics = newMetrics();
  const h = handler(metrics);
  const at = (minute: number, second = 0) => new Date(Date.UTC(2026, 3, 1, 10, minute, second)).toISOString();
  const r = (minute: number, firmware: string, second = 0) =>
    testReading({
      event_id: `00000000-0000-4000-8000-${String(minute * 10_000 + second * 10 + Number(firmware.slice(3))).padStart(12, '0')}`,
      device_id: 'DEV-A',
      metric: 'temperature',
      value: 20,
      event_time: at(minute, second),
      site: 'plant-1',
      region: 'eu',
      firmware,
    });
  const device = async () =>
    (
      await q<{ firmware: string; first_seen: Date; last_seen: Date; model: string | null; labels: object }>(
        `SELECT firmware, first_seen, last_seen, model, labels FROM devices WHERE device_id = 'DEV-A'`,
      )
    )[0]!;
  const writes = async () =>
    (await metrics.dbRowsWritten.get()).values.find((v) => v.labels.table === 'devices')?.value ?? 0;

  await h.handle([testTask([r(1, 'fw-1'), r(2, 'fw-1'), r(3, 'fw-1')])]);
  let d = await device();
  assert.deepEqual([d.firmware, d.first_seen.toISOString(), d.last_seen.toISOString()], ['fw-1', at(1), at(3)]);
  await h.handle([testTask([r(5, 'fw-2')])]); // an upgrade
  await h.handle([testTask([r(0, 'fw-0')])]); // a late reading from before it: extends the span, not the labels
  d = await device();
  assert.deepEqual([d.firmware, d.first_seen.toISOString(), d.last_seen.toISOString()], ['fw-2', at(0), at(5)]);
  const written = await writes();
  await h.handle([testTask([r(5, 'fw-2', 30)])]); // 30 s later, nothing else new: the row is left alone
  await h.handle([testTask([r(1, 'fw-1'), r(2, 'fw-1')])]); // a resend: no reading added, nothing recorded
  assert.equal(await writes(), written);
  assert.equal((await device()).last_seen.toISOString(), at(5), 'last_seen is kept to the minute');

  const metadata = parseDeviceMetadataFile(
    'devices: [{ id: DEV-A, model: KX-200, labels: { line: "3" } }, { id: DEV-NEW, model: TH-10 }]',
    'devices.yaml',
  );
  assert.equal(await applyDeviceMetadata(pool, metadata), 2);
  assert.equal(await applyDeviceMetadata(pool, metadata), 0, 'applying the same file again changes nothing');
  d = await device();
  assert.deepEqual([d.model, d.labels, d.firmware], ['KX-200', { line: '3' }, 'fw-2']);

  await withApi(async (base) => {
    const one = await fetch(`${base}/v1/devices/DEV-A`);
    assert.equal(one.status, 200);
    assert.deepEqual(await one.json(), {
      device_id: 'DEV-A',
      site: 'plant-1',
      region: 'eu',
      firmware: 'fw-2',
      model: 'KX-200',
      labels: { line: '3' },
      first_seen: at(0),
      last_seen: at(5),
    });
    const byLabel = (await (await fetch(`${base}/v1/devices?label=line=3`)).json()) as {
      total: number;
      devices: Array<{ device_id: string }>;
    };
    assert.deepEqual([byLabel.total, byLabel.devices.map((x) => x.device_id)], [1, ['DEV-A']]);
    const declared = (await (await fetch(`${base}/v1/devices/DEV-NEW`)).json()) as { first_seen: null; model: string };
    assert.deepEqual([declared.model, declared.first_seen], ['TH-10', null], 'named in the file, not seen yet');
    assert.equal((await fetch(`${base}/v1/devices/NOPE`)).status, 404);
    const bad = await fetch(`${base}/v1/devices?label=nolabel`);
    assert.equal(bad.status, 400);
  });
});

test('range and average over a window: pages that add up to the raw rows, and an average equal to the raw rows’ own', async () => {
  const h = handler();
  const t0 = Date.UTC(2026, 4, 1, 8, 0, 0);
  // 3 readings a minute, at :05 :25 :45, over 30 minutes: values with a large mean and a small spread
  const readings = Array.from({ length: 90 }, (_, i) =>
    testReading({
      event_id: `00000000-0000-4000-8000-${String(700_000 + i).padStart(12, '0')}`,
      device_id: 'RANGE-1',
      metric: 'pressure',
      value: 101_325 + Math.sin(i) * 3,
      event_time: new Date(t0 + Math.floor(i / 3) * 60_000 + (5 + (i % 3) * 20) * 1000).toISOString(),
      sequence_id: i,
    }),
  );
  await h.handle([testTask(readings.slice(0, 50)), testTask(readings.slice(50))]);

  await withApi(async (root) => {
    const base = root + `/v1/devices/RANGE-1/metrics/pressure`;
    const iso = (ms: number) => new Date(ms).toISOString();
    // Range: pages of 7 over 17 minutes, continued by `next`, equal the raw rows in order.
    const from = iso(t0 + 2 * 60_000 + 10_000);
    const to = iso(t0 + 19 * 60_000);
    const paged: Array<{ event_id: string; value: number; sequence_id: number }> = [];
    let next: string | null = null;
    do {
      const url = `${base}/readings?from=${from}&to=${to}&limit=7${next ? `&after=${next}` : ''}`;
      const page = (await (await fetch(url)).json()) as { readings: typeof paged; next: string | null };
      paged.push(...page.readings);
      next = page.next;
    } while (next);
    const raw = await q<{ event_id: string; value: number }>(
      `SELECT event_id::text AS event_id, value FROM readings
        WHERE device_id = 'RANGE-1' AND event_time >= $1 AND event_time < $2 ORDER BY event_time, event_id`,
      [from, to],
    );
    assert.equal(raw.length, 50);
    assert.equal(typeof paged[0]!.sequence_id, 'number');
    assert.deepEqual(
      paged.map((r) => [r.event_id, r.value]),
      raw.map((r) => [r.event_id, r.value]),
    );
    assert.equal((await fetch(`${base}/readings?after=nonsense`)).status, 400);

    // Average: whole minutes from the rollups, partial ones from raw rows — equal to the raw rows' aggregate.
    const windows: Array<[number, number]> = [
      [t0, t0 + 30 * 60_000], // minute-aligned: rollups only
      [t0 + 90_000, t0 + 17 * 60_000 + 30_000], // both ends inside a minute
      [t0 + 3 * 60_000 + 10_000, t0 + 3 * 60_000 + 50_000], // inside one minute: raw only
      [t0 + 40 * 60_000, t0 + 50 * 60_000], // nothing there
    ];
    for (const [a, b] of windows) {
      const got = (await (await fetch(`${base}/average?from=${iso(a)}&to=${iso(b)}`)).json()) as {
        count: number;
        avg: number | null;
        min: number | null;
        max: number | null;
        stddev: number | null;
      };
      const [want] = await q<{
        n: number;
        avg: number | null;
        min: number | null;
        max: number | null;
        sd: number | null;
      }>(
        `SELECT count(*)::int AS n, avg(value) AS avg, min(value), max(value), stddev_samp(value) AS sd FROM readings
          WHERE device_id = 'RANGE-1' AND metric = 'pressure' AND event_time >= $1 AND event_time < $2`,
        [iso(a), iso(b)],
      );
      const close = (x: number | null, y: number | null) =>
        x === null || y === null ? x === y : Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(y));
      assert.equal(got.count, want!.n, `count over ${iso(a)}–${iso(b)}`);
      for (const [k, w] of [
        ['avg', want!.avg],
        ['min', want!.min],
        ['max', want!.max],
        ['stddev', want!.sd],
      ] as const) {
        assert.ok(close(got[k], w), `${k} over ${iso(a)}–${iso(b)}: ${got[k]} vs ${w}`);
      }
    }
  });
});

test('QUERY_API_KEYS: the read API needs a key (a query or an admin one); probes and metrics stay open', async () => {
  const queryKeys = parseApiKeys(`dash:${hashApiKey('reader-key')}`, 'QUERY_API_KEYS');
  const adminKeys = parseApiKeys(`ops:${hashApiKey('admin-key')}`, 'ADMIN_API_KEYS');
  await withApi(
    async (base) => {
      const get = (path: string, key?: string) =>
        fetch(base + path, key ? { headers: { authorization: `Bearer ${key}` } } : {}).then((r) => r.status);
      assert.equal(await get('/v1/alerts'), 401);
      assert.equal(await get('/v1/alerts', 'a-guess'), 401);
      assert.equal(await get('/v1/alerts', 'reader-key'), 200);
      assert.equal(await get('/v1/devices?limit=1', 'admin-key'), 200);
      assert.equal(await get('/health'), 200);
      assert.equal(await get('/metrics'), 200);
    },
    { queryKeys, adminKeys },
  );
});

test('the read API answers a forged cursor, a time PostgreSQL cannot hold and a malformed path with a 400, never a 503', async () => {
  await withApi(async (base) => {
    const readings = `${base}/v1/devices/ANY/metrics/temperature/readings`;
    const forged = [
      Buffer.from('2026-03-01T10:00:00.000Z|------------------------------------').toString('base64url'),
      Buffer.from('0000-01-01T00:00:00.000Z|00000000-0000-4000-8000-000000000000').toString('base64url'),
      Buffer.from('yesterday|00000000-0000-4000-8000-000000000000').toString('base64url'),
      'not-base64-at-all!',
    ];
    for (const cursor of forged) {
      const res = await fetch(`${readings}?after=${encodeURIComponent(cursor)}`);
      assert.equal(res.status, 400, cursor);
      assert.deepEqual(
        ((await res.json()) as { errors: Array<{ path: string }> }).errors.map((e) => e.path),
        ['after'],
      );
    }
    for (const url of [
      `${readings}?from=0000-01-01T00:00:00Z`,
      `${base}/v1/devices/ANY/metrics/temperature/average?from=0000-06-01T00:00:00Z&to=0001-01-01T00:00:00Z`,
      `${base}/v1/devices/%E0%A4%A/metrics/temperature/readings`,
    ]) {
      const res = await fetch(url);
      assert.equal(res.status, 400, url);
      assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
      await res.arrayBuffer();
    }
  });
});
