import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { pino } from 'pino';
import { startStack, type LocalStack } from '@telemetryhub/testkit';
import { Readiness, createMetricsRegistry } from '@telemetryhub/service-kit';
import { deriveEventId } from '@telemetryhub/schemas';
import {
  DeadLetterQueue,
  QueueMaintenance,
  ReliableConsumer,
  RedisListProducer,
  createRedis,
  type DeadLetterRecord,
  type RedisClient,
} from '@telemetryhub/queue';
import { createPgPool } from '../store/pool.js';
import { migrate } from '@telemetryhub/migrations';
import { classifyDbError } from '../store/pg-errors.js';
import { createProcessorMetrics, type ProcessorMetrics } from '../metrics/processor-metrics.js';
import { HandlerRegistry, TELEMETRY_TASK_TYPES, createTelemetryHandler } from '../handlers/index.js';
import { TaskRunner, type TaskRunnerOptions } from './task-runner.js';
import { ConsumerLoop } from './consumer-loop.js';
import { createApp } from '../app.js';
import { LatestCache } from '../store/latest.cache.js';
import { DeferredFold } from '../fold/deferred-fold.js';
import { PartitionManager } from '../store/partitions.js';
import { DevicePseudonymizer } from '../privacy/device-pseudonymizer.js';
import { createDecodePool } from '../decode/decode-pool.js';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
const fixtureText = (name: string) =>
  readFileSync(new URL(`../../../../fixtures/shapes/${name}.json`, import.meta.url), 'utf8');

let stack: LocalStack;
let pool: pg.Pool;
let redis: RedisClient;
let blocking: RedisClient;
let queueN = 0;
/** Decoding in two real worker threads, as the processor runs it. */
const decoder = createDecodePool({ threads: 2, maxFutureSkewMs: 300_000 });
const PSEUDONYM_KEY = 'a pseudonymisation key, 32 chars+';
const pseudonymizingDecoder = createDecodePool({ threads: 1, deviceIdHmacKey: PSEUDONYM_KEY });

before(async () => {
  stack = await startStack();
  pool = createPgPool(stack.postgres.url, { max: 4, statementTimeoutMs: 5000, connectionTimeoutMs: 1000 }, log);
  await migrate(pool, log);
  redis = createRedis(stack.redis.url);
  blocking = createRedis(stack.redis.url, { blocking: true });
});
after(async () => {
  await Promise.all([decoder.close(), pseudonymizingDecoder.close()]);
  redis.disconnect();
  blocking.disconnect();
  await pool.end();
  await stack.stop();
});

/** A runner with this file's defaults (fast retries); each test overrides what it exercises. */
function runnerFor(
  consumer: TaskRunnerOptions['consumer'],
  handlers: HandlerRegistry,
  metrics: ProcessorMetrics,
  overrides: Partial<TaskRunnerOptions> = {},
): TaskRunner {
  return new TaskRunner({
    consumer,
    handlers,
    metrics,
    log,
    classify: classifyDbError,
    maxAttempts: 5,
    retryBaseMs: 1,
    retryMaxMs: 5,
    ...overrides,
  });
}

/** A logger whose lines the test reads back (parsed). */
function capturedLog() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines, named: (msg: string) => lines.filter((l) => l.msg === msg) };
}

function pipeline() {
  const queue = `it${++queueN}`;
  const metrics = createProcessorMetrics(
    createMetricsRegistry({ service: 'telemetryhub-task-processor', version: 't', defaultMetrics: false }),
  );
  const consumer = new ReliableConsumer(redis, blocking, queue);
  const handlers = new HandlerRegistry().register(TELEMETRY_TASK_TYPES, createTelemetryHandler({ pool, metrics, log }));
  const runner = runnerFor(consumer, handlers, metrics, {
    retryBaseMs: 50,
    unavailableRetryMs: 50,
    decoder,
    retryMaxMs: 200,
  });
  const loop = new ConsumerLoop({ consumer, runner, metrics, log, batchSize: 50, blockMs: 100 });
  return { queue, consumer, runner, loop, metrics, producer: new RedisListProducer(redis, queue) };
}

async function rowsOf(device: string): Promise<Array<{ metric: string; value: number }>> {
  const { rows } = await pool.query('SELECT metric, value FROM readings WHERE device_id = $1 ORDER BY metric', [
    device,
  ]);
  return rows;
}

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('stores the readings of every documented task shape, acks them, and leaves nothing in flight', async () => {
  const p = pipeline();
  await p.producer.enqueue([
    fixtureText('task-shape-a'),
    fixtureText('task-shape-b'),
    fixtureText('task-numeric-priority'),
  ]);
  const raws = await p.consumer.fetch(10, 0);
  const outcome = await p.runner.run(raws, () => true);
  assert.deepEqual(outcome, { acked: 3, retried: 0, deadLettered: 0, unsettled: 0 });
  assert.deepEqual(await rowsOf('sensor_001'), [
    { metric: 'humidity', value: 40 },
    { metric: 'temperature', value: 85.1 },
  ]);
  assert.deepEqual(await rowsOf('sensor_002'), [{ metric: 'humidity', value: 97.5 }]);
  assert.deepEqual(await rowsOf('BESS-07'), [{ metric: 'voltage', value: 2.61 }]);
  assert.equal(await p.consumer.inFlight(), 0);
});

/** A hub-like task: one envelope carrying readings of several clients, in the internal form. */
function mixedTask(type: string, readings: Array<Record<string, unknown>>): { raw: string; id: string } {
  const id = crypto.randomUUID();
  return {
    id,
    raw: JSON.stringify({
      id,
      type,
      priority: 50,
      created_at: new Date().toISOString(),
      attempts: 0,
      payload: { readings },
    }),
  };
}
const neighbourReading = (device: string, i: number) => ({
  event_id: `00000000-0000-4000-8000-${device.length.toString().padStart(4, '0')}${String(i).padStart(8, '0')}`,
  device_id: device,
  metric: 'temperature',
  event_time: new Date(Date.now() - 60_000 + i * 10).toISOString(),
  value: 20 + i / 100,
});
const dlqRecords = async (queue: string) =>
  (await redis.lrange(`${queue}:failed`, 0, -1)).map((e) => JSON.parse(e) as DeadLetterRecord);

test('one reading PostgreSQL refuses costs only itself: its 100 neighbours are stored, it is dead-lettered alone and replays alone', async () => {
  const p = pipeline();
  // Something the schemas accept and PostgreSQL refuses (here a constraint of this test's own).
  await pool.query(`ALTER TABLE readings ADD CONSTRAINT test_refused CHECK (device_id <> 'REFUSED-BY-PG')`);
  const odd = { ...neighbourReading('REFUSED-BY-PG', 0), value: 1 };
  const readings = Array.from({ length: 100 }, (_, i) => neighbourReading('NEIGH-A', i));
  readings.splice(37, 0, odd);
  const task = mixedTask('telemetry.analyze', readings);
  try {
    await p.producer.enqueue([task.raw]);
    const outcome = await p.runner.run(await p.consumer.fetch(10, 0), () => true);
    assert.deepEqual(outcome, { acked: 1, retried: 0, deadLettered: 1, unsettled: 0 });
    assert.equal((await rowsOf('NEIGH-A')).length, 100, 'every neighbour stored');
    assert.equal(await p.consumer.inFlight(), 0);
    const [record, ...more] = await dlqRecords(p.queue);
    assert.equal(more.length, 0);
    assert.equal(record!.reason, 'poison');
    assert.equal(record!.part_of, task.id);
    assert.match(record!.message, /event 37 of task .*test_refused/);
    const part = JSON.parse(record!.raw) as { id: string; type: string; payload: unknown[] };
    assert.equal(part.type, 'telemetry.analyze');
    assert.deepEqual(part.payload, [odd], 'the part carries the event exactly as sent');
    assert.equal(record!.task_id, part.id);
    // The task's statistics are stored once, of the readings that were stored.
    const { rows: stats } = await pool.query('SELECT readings FROM task_statistics WHERE task_id = $1', [task.id]);
    assert.deepEqual(stats, [{ readings: 100 }]);
    // A retry of the same task (a crash before the settle) adds nothing and finds the same part.
    await p.producer.enqueue([task.raw]);
    await p.runner.run(await p.consumer.fetch(10, 0), () => true);
    assert.equal((await rowsOf('NEIGH-A')).length, 100);
    const again = await dlqRecords(p.queue);
    assert.equal(again.length, 2);
    assert.equal(again[0]!.raw, record!.raw, 'the same part, byte for byte');
  } finally {
    await pool.query('ALTER TABLE readings DROP CONSTRAINT test_refused');
  }
  // Fixed, the part replays alone: just that reading is stored.
  await new DeadLetterQueue(redis, p.queue).replayAt(0);
  await p.runner.run(await p.consumer.fetch(10, 0), () => true);
  assert.deepEqual(await rowsOf('REFUSED-BY-PG'), [{ metric: 'temperature', value: 1 }]);
});

test('events the decoder refuses beside good ones are dead-lettered alone, each naming its field; the rest is stored', async () => {
  const p = pipeline();
  const readings: Array<Record<string, unknown>> = Array.from({ length: 100 }, (_, i) =>
    neighbourReading('NEIGH-B', i),
  );
  const yearZero = { ...neighbourReading('ODD-1', 1), event_time: '0000-01-01T00:00:00Z' };
  const loneSurrogate = { ...neighbourReading('ODD-2', 2), device_id: 'ODD-\uD800' };
  readings.splice(10, 0, yearZero);
  readings.splice(50, 0, loneSurrogate);
  const task = mixedTask('telemetry.store', readings);
  await p.producer.enqueue([task.raw]);
  const captured = capturedLog();
  const handlers = new HandlerRegistry().register(
    TELEMETRY_TASK_TYPES,
    createTelemetryHandler({ pool, metrics: p.metrics, log }),
  );
  const runner = runnerFor(p.consumer, handlers, p.metrics, { decoder, log: captured.logger });
  const outcome = await runner.run(await p.consumer.fetch(10, 0), () => true);
  assert.deepEqual(outcome, { acked: 1, retried: 0, deadLettered: 2, unsettled: 0 });
  assert.equal((await rowsOf('NEIGH-B')).length, 100);
  // Each is logged with its device, the correlation field for finding the device's other lines.
  assert.deepEqual(
    captured.named('event dead-lettered alone').map((l) => [l.deviceId, l.partOf, l.reason]),
    [
      ['ODD-1', task.id, 'invalid_payload'],
      ['ODD-\uD800', task.id, 'invalid_payload'],
    ],
  );
  const records = (await dlqRecords(p.queue)).reverse();
  assert.deepEqual(
    records.map((r) => [r.reason, r.part_of]),
    [
      ['invalid_payload', task.id],
      ['invalid_payload', task.id],
    ],
  );
  assert.match(records[0]!.message, /event 10 of task .*payload\.readings\[10\]\.event_time: must be from 1970/);
  assert.match(
    records[1]!.message,
    /event 50 of task .*payload\.readings\[50\]\.device_id: must be well-formed Unicode/,
  );
  assert.deepEqual((JSON.parse(records[0]!.raw) as { payload: unknown[] }).payload, [yearZero]);
  assert.equal(await p.consumer.inFlight(), 0);
});

test('a task in columns (as the hub publishes): a refused reading is dead-lettered alone as a row, naming its column and index; the rest is stored', async () => {
  const p = pipeline();
  const rows: Array<Record<string, unknown>> = Array.from({ length: 50 }, (_, i) => neighbourReading('NEIGH-C', i));
  const yearZero = { ...neighbourReading('ODD-3', 3), event_time: '0000-01-01T00:00:00Z' };
  rows.splice(7, 0, yearZero);
  const fields = ['event_id', 'device_id', 'metric', 'event_time', 'value'];
  const columns = Object.fromEntries(fields.map((f) => [f, rows.map((r) => r[f])]));
  const task = mixedTask('telemetry.analyze', []);
  const raw = JSON.stringify({ ...(JSON.parse(task.raw) as object), payload: { columns } });
  await p.producer.enqueue([raw]);
  const outcome = await p.runner.run(await p.consumer.fetch(10, 0), () => true);
  assert.deepEqual(outcome, { acked: 1, retried: 0, deadLettered: 1, unsettled: 0 });
  assert.equal((await rowsOf('NEIGH-C')).length, 50);
  const [record, ...more] = await dlqRecords(p.queue);
  assert.equal(more.length, 0);
  assert.match(record!.message, /event 7 of task .*payload\.columns\.event_time\[7\]: must be from 1970/);
  assert.deepEqual((JSON.parse(record!.raw) as { payload: unknown[] }).payload, [yearZero], 'the reading as a row');
  assert.equal(await p.consumer.inFlight(), 0);
});

test('a duplicate send and a retried task leave exactly one row per event_id', async () => {
  const p = pipeline();
  const task = fixtureText('task-numeric-priority')
    .replace(/BESS-07/g, 'DUP-1')
    .replace('a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d', 'd0d0d0d0-0000-4000-8000-000000000001');
  await p.producer.enqueue([task, task, task]);
  await p.runner.run(await p.consumer.fetch(10, 0), () => true);
  await p.producer.enqueue([task]);
  await p.runner.run(await p.consumer.fetch(10, 0), () => true);
  assert.equal((await rowsOf('DUP-1')).length, 1);
  assert.equal((await p.metrics.duplicateReadings.get()).values[0]!.value, 3);
});

test('dead-letters bad tasks with their reason, and still stores the good ones of the same batch', async () => {
  const p = pipeline();
  const good = fixtureText('task-shape-a').replace(/sensor_001/g, 'MIX-1');
  const unknownType = JSON.stringify({ type: 'telemetry.teleport', payload: { x: 1 } });
  const badPayload = JSON.stringify({
    type: 'telemetry.store',
    payload: { device_id: 'd', timestamp: 'yesterday', temperature: 1 },
  });
  // PostgreSQL refuses NUL in text: a reading holding one (here in a field no schema reads) is poison.
  const nulPayload = JSON.stringify({
    type: 'telemetry.store',
    payload: { device_id: 'MIX-2', timestamp: 1766745000, temperature: 1, note: 'a\u0000b' },
  });
  await p.producer.enqueue([good, '{"broken', unknownType, badPayload, nulPayload]);
  const outcome = await p.runner.run(await p.consumer.fetch(10, 0), () => true);
  assert.deepEqual(outcome, { acked: 1, retried: 0, deadLettered: 4, unsettled: 0 });
  assert.equal((await rowsOf('MIX-1')).length, 2);
  assert.equal((await rowsOf('MIX-2')).length, 0);
  const dlq = (await redis.lrange(`${p.queue}:failed`, 0, -1)).map((e) => JSON.parse(e) as DeadLetterRecord).reverse();
  assert.deepEqual(
    dlq.map((r) => r.reason),
    ['invalid_envelope', 'unknown_type', 'invalid_payload', 'invalid_payload'],
  );
  assert.equal(dlq[0]!.raw, '{"broken');
  assert.match(dlq[2]!.message, /payload\.timestamp/);
  assert.match(dlq[3]!.message, /payload\.note.*NUL/);
  assert.equal(await p.consumer.inFlight(), 0);
});

test('PostgreSQL stopped mid-stream: tasks wait in processing, then everything arrives once, nothing twice', async () => {
  const p = pipeline();
  const tasks = Array.from({ length: 40 }, (_, i) =>
    JSON.stringify({
      type: 'telemetry.store',
      payload: { device_id: 'OUTAGE-1', timestamp: 1766745000 + i, temperature: i },
    }),
  );
  await p.producer.enqueue(tasks.slice(0, 20));
  p.loop.start();
  await waitFor(async () => (await rowsOf('OUTAGE-1')).length === 20);
  await stack.postgres.halt();
  await p.producer.enqueue(tasks.slice(20));
  await waitFor(async () => (await p.metrics.dependencyWaits.get()).values[0]!.value > 0);
  assert.ok((await p.consumer.inFlight()) > 0, 'the tasks are held, not acked, while PostgreSQL is down');
  await stack.postgres.resume();
  await waitFor(async () => (await rowsOf('OUTAGE-1').catch(() => [])).length === 40);
  await p.producer.enqueue(tasks.slice(0, 5)); // resent duplicates
  await waitFor(async () => (await redis.llen(`${p.queue}:pending`)) === 0 && (await p.consumer.inFlight()) === 0);
  await p.loop.stop();
  const values = (await rowsOf('OUTAGE-1')).map((r) => r.value).sort((a, b) => a - b);
  assert.deepEqual(
    values,
    Array.from({ length: 40 }, (_, i) => i),
  );
});

test('serves the newest reading of a device and metric, and a 404 problem when there is none', async () => {
  const p = pipeline();
  const at = (s: number, v: number) =>
    JSON.stringify({ type: 'telemetry.store', payload: { device_id: 'Q-1', timestamp: s, humidity: v } });
  await p.producer.enqueue([at(1766745060, 10), at(1766745120, 30), at(1766745090, 20)]);
  await p.runner.run(await p.consumer.fetch(10, 0), () => true);
  const registry = createMetricsRegistry({
    service: 'telemetryhub-task-processor',
    version: 't',
    defaultMetrics: false,
  });
  const server = createApp({ log, registry, readiness: new Readiness(), pool }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const res = await fetch(`${base}/v1/devices/Q-1/metrics/humidity/latest`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { value: number; event_time: string; unit: string };
    assert.equal(body.value, 30);
    assert.equal(body.event_time, '2025-12-26T10:32:00.000Z');
    assert.equal(body.unit, '%');
    const missing = await fetch(`${base}/v1/devices/Q-1/metrics/pressure/latest`);
    assert.equal(missing.status, 404);
    assert.match(missing.headers.get('content-type') ?? '', /problem\+json/);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('with pseudonymisation on, no table holds the device id it sent, and queries still find it by that id', async () => {
  const p = pipeline();
  const pseudonymizer = new DevicePseudonymizer(PSEUDONYM_KEY);
  const handlers = new HandlerRegistry().register(
    TELEMETRY_TASK_TYPES,
    createTelemetryHandler({ pool, metrics: p.metrics, log }),
  );
  const runner = runnerFor(p.consumer, handlers, p.metrics, { decoder: pseudonymizingDecoder });
  const task = JSON.stringify({
    type: 'telemetry.analyze',
    payload: { device_id: 'P-secret-7', timestamp: '2025-12-26T10:30:00Z', temperature: 85.1, humidity: 40 },
  });
  await p.producer.enqueue([task, task]); // a duplicate send: still one row per reading
  assert.equal((await runner.run(await p.consumer.fetch(10, 0), () => true)).acked, 2);

  const pseudonym = pseudonymizer.deviceId('P-secret-7');
  const count = async (table: string, device: string) =>
    Number((await pool.query(`SELECT count(*) FROM ${table} WHERE device_id = $1`, [device])).rows[0].count);
  for (const table of ['readings', 'rollups_1m', 'rollups_1h', 'alerts']) {
    assert.equal(await count(table, 'P-secret-7'), 0, `${table} holds the real id`);
  }
  assert.equal(await count('readings', pseudonym), 2);
  assert.equal(await count('rollups_1m', pseudonym), 2);
  assert.equal(await count('alerts', pseudonym), 1, 'the temperature alert fired under the pseudonym');
  const { rows } = await pool.query(
    `SELECT event_id::text FROM readings WHERE device_id = $1 AND metric = 'temperature'`,
    [pseudonym],
  );
  const derived = deriveEventId('P-secret-7', 'temperature', '2025-12-26T10:30:00.000Z', 85.1);
  assert.deepEqual(rows, [{ event_id: pseudonymizer.eventId(derived) }], 'the event id is re-keyed as well');

  const registry = createMetricsRegistry({
    service: 'telemetryhub-task-processor',
    version: 't',
    defaultMetrics: false,
  });
  const server = createApp({ log, registry, readiness: new Readiness(), pool, pseudonymizer }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    for (const asked of ['P-secret-7', pseudonym]) {
      const latest = await fetch(`${base}/v1/devices/${asked}/metrics/temperature/latest`);
      assert.equal(latest.status, 200, asked);
      assert.equal(((await latest.json()) as { device_id: string }).device_id, pseudonym);
    }
    const alerts = (await (await fetch(`${base}/v1/alerts?device=P-secret-7`)).json()) as { alerts: unknown[] };
    assert.equal(alerts.alerts.length, 1);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('a transient failure is retried through the delayed set, then dead-lettered when attempts run out', async () => {
  const queue = `it${++queueN}`;
  const metrics = createProcessorMetrics(
    createMetricsRegistry({ service: 'telemetryhub-task-processor', version: 't', defaultMetrics: false }),
  );
  const consumer = new ReliableConsumer(redis, blocking, queue);
  let calls = 0;
  const flaky = {
    name: 'flaky',
    async handle() {
      calls++;
      throw Object.assign(new Error('could not serialize access'), { code: '40001' });
    },
  };
  const runner = runnerFor(consumer, new HandlerRegistry().register(['telemetry.store'], flaky), metrics, {
    maxAttempts: 3,
  });
  const maintenance = new QueueMaintenance(redis, queue);
  await new RedisListProducer(redis, queue).enqueue([
    JSON.stringify({
      id: 'flaky-1',
      type: 'telemetry.store',
      payload: { device_id: 'F', timestamp: 1, temperature: 1 },
    }),
  ]);
  const outcomes = [];
  for (let round = 0; round < 3; round++) {
    await new Promise((r) => setTimeout(r, 10));
    await maintenance.promoteDue();
    outcomes.push(await runner.run(await consumer.fetch(10, 0), () => true));
  }
  assert.deepEqual(
    outcomes.map((o) => [o.retried, o.deadLettered]),
    [
      [1, 0],
      [1, 0],
      [0, 1],
    ],
  );
  assert.equal(calls, 3);
  const [entry] = await redis.lrange(`${queue}:failed`, 0, -1);
  const record = JSON.parse(entry!) as DeadLetterRecord;
  assert.equal(record.reason, 'attempts_exhausted');
  assert.equal(record.attempts, 3);
  assert.ok(record.first_failed_at < record.last_failed_at, 'first and last failure times are both kept');
  assert.match(record.message, /serialize/);
  assert.equal(await consumer.inFlight(), 0);
});

test('a task delivered past its max_attempts (its consumers kept dying) is dead-lettered before it runs', async () => {
  const p = pipeline();
  const raw = JSON.stringify({
    id: 'crashy',
    type: 'telemetry.store',
    attempts: 4,
    max_attempts: 4,
    payload: { device_id: 'C', timestamp: 1, voltage: 3 },
  });
  await p.producer.enqueue([raw]);
  const outcome = await p.runner.run(await p.consumer.fetch(1, 0), () => true);
  assert.deepEqual(outcome, { acked: 0, retried: 0, deadLettered: 1, unsettled: 0 });
  assert.equal((await rowsOf('C')).length, 0);
});

test('when settling a batch fails, the live consumer gives its tasks back instead of keeping them forever', async () => {
  const p = pipeline();
  await p.producer.enqueue(['{"broken']);
  let failures = 1;
  const flakyRedis = Object.create(p.consumer) as ReliableConsumer;
  flakyRedis.deadLetter = async (raw, record) => {
    if (failures-- > 0) throw new Error('Connection is closed.');
    return p.consumer.deadLetter(raw, record);
  };
  const runner = runnerFor(flakyRedis, new HandlerRegistry(), p.metrics);
  const loop = new ConsumerLoop({ consumer: p.consumer, runner, metrics: p.metrics, log, batchSize: 10, blockMs: 50 });
  loop.start();
  try {
    // Dead-lettered on the second delivery, while the loop still runs: it was given back, not kept.
    await waitFor(async () => (await redis.llen(`${p.queue}:failed`)) === 1, 5000);
  } finally {
    await loop.stop();
  }
  assert.equal(await p.consumer.inFlight(), 0);
  assert.equal(await redis.llen(`${p.queue}:pending`), 0);
});

test('a task carrying an event from the future (device clock ahead) is dead-lettered, naming the field', async () => {
  const p = pipeline();
  const ahead = Math.floor(Date.now() / 1000) + 3600;
  await p.producer.enqueue([
    JSON.stringify({ type: 'telemetry.store', payload: { device_id: 'SKEW-1', timestamp: ahead, temperature: 20 } }),
  ]);
  const outcome = await p.runner.run(await p.consumer.fetch(1, 0), () => true);
  assert.equal(outcome.deadLettered, 1);
  const [entry] = await redis.lrange(`${p.queue}:failed`, 0, -1);
  const record = JSON.parse(entry!) as DeadLetterRecord;
  assert.equal(record.reason, 'invalid_payload');
  assert.match(record.message, /payload\.timestamp: is 3\d{3} s in the future/);
  assert.equal((await rowsOf('SKEW-1')).length, 0);
});

test('the latest value per device and metric is served from Redis, and a late reading never overwrites it', async () => {
  const queue = `it${++queueN}`;
  const metrics = createProcessorMetrics(
    createMetricsRegistry({ service: 'telemetryhub-task-processor', version: 't', defaultMetrics: false }),
  );
  const latest = new LatestCache(redis, log, `t${queueN}`);
  // The fold writes the cache (never on its timer here: folded by hand).
  const fold = new DeferredFold({
    pool,
    partitions: new PartitionManager(pool),
    metrics,
    log,
    settings: {},
    latest,
    options: { intervalMs: 60_000 },
  });
  const consumer = new ReliableConsumer(redis, blocking, queue);
  const runner = runnerFor(
    consumer,
    new HandlerRegistry().register(TELEMETRY_TASK_TYPES, createTelemetryHandler({ pool, metrics, log, fold })),
    metrics,
  );
  const at = (s: number, v: number) =>
    JSON.stringify({ type: 'telemetry.store', payload: { device_id: 'LAT-1', timestamp: s, pressure: v } });
  const producer = new RedisListProducer(redis, queue);
  await producer.enqueue([at(1766745120, 30)]);
  await runner.run(await consumer.fetch(10, 0), () => true);
  assert.equal(await latest.get('LAT-1', 'pressure'), null, 'written by the fold, not by the batch');
  await fold.flush();
  assert.equal((await latest.get('LAT-1', 'pressure'))?.value, 30);
  await producer.enqueue([at(1766745060, 10)]); // older, arriving later
  await runner.run(await consumer.fetch(10, 0), () => true);
  await fold.flush();
  assert.equal((await latest.get('LAT-1', 'pressure'))?.value, 30);

  const registry = createMetricsRegistry({
    service: 'telemetryhub-task-processor',
    version: 't',
    defaultMetrics: false,
  });
  const server = createApp({ log, registry, readiness: new Readiness(), pool, latest }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const cached = (await (await fetch(`${base}/v1/devices/LAT-1/metrics/pressure/latest`)).json()) as {
      value: number;
      source: string;
    };
    assert.deepEqual([cached.value, cached.source], [30, 'cache']);
    // A reading stored before the cache existed (test 1's device) is still found, in PostgreSQL.
    const fallback = (await (await fetch(`${base}/v1/devices/BESS-07/metrics/voltage/latest`)).json()) as {
      value: number;
      source: string;
    };
    assert.deepEqual([fallback.value, fallback.source], [2.61, 'database']);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('a failed ack is not retried by running the handler again: it propagates, for the loop to give the tasks back', async () => {
  const p = pipeline();
  await p.producer.enqueue([
    JSON.stringify({ type: 'telemetry.store', payload: { device_id: 'ACK-1', timestamp: 1, voltage: 3 } }),
  ]);
  let handled = 0;
  let ackFailures = 1;
  const counting = {
    name: 'counting',
    async handle() {
      handled++;
    },
  };
  const flakyAck = Object.create(p.consumer) as ReliableConsumer;
  flakyAck.ack = async (raws) => {
    if (ackFailures-- > 0) throw new Error('Connection is closed.');
    return p.consumer.ack(raws);
  };
  const runner = runnerFor(flakyAck, new HandlerRegistry().register(['telemetry.store'], counting), p.metrics, {
    unavailableRetryMs: 1,
  });
  await assert.rejects(
    runner.run(await p.consumer.fetch(1, 0), () => true),
    /Connection is closed/,
  );
  assert.equal(handled, 1, 'the stored work is not redone because Redis failed');
  assert.equal(await p.consumer.inFlight(), 1, 'still held, for the loop to return');
});

test('with pseudonymisation on, an event dead-lettered alone is logged under its device’s pseudonym, never the id it sent', async () => {
  const p = pipeline();
  const captured = capturedLog();
  const handlers = new HandlerRegistry().register(
    TELEMETRY_TASK_TYPES,
    createTelemetryHandler({ pool, metrics: p.metrics, log }),
  );
  const runner = runnerFor(p.consumer, handlers, p.metrics, { decoder: pseudonymizingDecoder, log: captured.logger });
  const bad = { ...neighbourReading('P-secret-9', 1), event_time: '0000-01-01T00:00:00Z' };
  const task = mixedTask('telemetry.store', [neighbourReading('P-secret-9', 0), bad]);
  await p.producer.enqueue([task.raw]);
  const outcome = await runner.run(await p.consumer.fetch(10, 0), () => true);
  assert.deepEqual(outcome, { acked: 1, retried: 0, deadLettered: 1, unsettled: 0 });
  const [line, ...more] = captured.named('event dead-lettered alone');
  assert.equal(more.length, 0);
  assert.equal(line!.deviceId, new DevicePseudonymizer(PSEUDONYM_KEY).deviceId('P-secret-9'));
  assert.equal(JSON.stringify(captured.lines).includes('P-secret-9'), false, 'no log line holds the id it sent');
});
