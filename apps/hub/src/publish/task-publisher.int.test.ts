import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { RedisServer } from '@telemetryhub/devstack';
import {
  TaskProducer,
  createMetricsRegistry,
  createRedis,
  parseEventsStrict,
  parseTaskEnvelope,
  type Reading,
} from '@telemetryhub/common';
import { createHubMetrics } from '../metrics.js';
import { ReadingBuffer } from '../buffer/reading-buffer.js';
import { SimulatedDriver } from '../drivers/simulated-driver.js';
import { TaskPublisher } from './task-publisher.js';

let server: RedisServer;
before(async () => {
  server = await RedisServer.start();
});
after(() => server.stop());

function setup(queue: string, batchMaxReadings: number) {
  const metrics = createHubMetrics(
    createMetricsRegistry({ prefix: 'telemetry_hub', version: 't', defaultMetrics: false }),
  );
  const buffer = new ReadingBuffer(100_000, 'drop-oldest', metrics);
  const redis = createRedis(server.url, { offlineQueue: false, commandTimeoutMs: 1000 });
  const publisher = new TaskPublisher({
    buffer,
    producer: new TaskProducer(redis, queue),
    metrics,
    log: pino({ level: process.env.TEST_LOG ?? 'silent' }),
    taskType: 'telemetry.analyze',
    batchMaxReadings,
    lingerMs: 20,
    retryMinMs: 50,
    retryMaxMs: 200,
  });
  return { buffer, redis, publisher, metrics };
}

async function drainQueue(redisUrl: string, queue: string): Promise<Reading[]> {
  const redis = createRedis(redisUrl);
  const raws = await redis.lrange(`${queue}:pending`, 0, -1);
  redis.disconnect();
  // LPUSH puts the newest at the left: read right to left for publish order.
  return raws.reverse().flatMap((raw) => parseEventsStrict(parseTaskEnvelope(raw).payload));
}

const readings = (n: number) =>
  new SimulatedDriver({ devices: 1, rateHz: 1, metrics: ['temperature'], site: 's', region: 'r', seed: 1 }).sampleAll(
    n,
    Date.parse('2026-01-01T00:00:00Z'),
  );

test('publishes buffered readings as tasks of at most the batch size, in order', async () => {
  const { buffer, redis, publisher } = setup('order', 100);
  const input = readings(1050);
  publisher.start();
  buffer.add(input);
  const left = await publisher.stop(5000);
  redis.disconnect();
  assert.equal(left, 0);
  const published = await drainQueue(server.url, 'order');
  assert.deepEqual(
    published.map((r) => r.event_id),
    input.map((r) => r.event_id),
  );
  const check = createRedis(server.url);
  assert.equal(await check.llen('order:pending'), 11, '1050 readings in tasks of 100');
  check.disconnect();
});

test('holds its batch through a Redis outage and delivers everything once Redis is back', async () => {
  const { buffer, redis, publisher, metrics } = setup('outage', 50);
  publisher.start();
  const first = readings(100);
  buffer.add(first);
  await waitFor(async () => (await redis.llen('outage:pending').catch(() => 0)) === 2);
  await server.restart(); // Redis comes back empty (no AOF): only what is published after is checked
  server.signal('SIGSTOP');
  const second = readings(300).slice(100);
  buffer.add(second);
  await waitFor(async () => (await metrics.publishErrors.get()).values[0]!.value > 0);
  server.signal('SIGCONT');
  await waitFor(async () => (await redis.llen('outage:pending').catch(() => 0)) >= 4);
  assert.equal(await publisher.stop(5000), 0);
  redis.disconnect();
  const published = await drainQueue(server.url, 'outage');
  const ids = published.map((r) => r.event_id);
  for (const r of second) assert.ok(ids.includes(r.event_id), 'every reading of the outage arrived');
  assert.ok((await metrics.publishErrors.get()).values[0]!.value > 0, 'the outage was seen and counted');
});

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('at the queue depth limit the publisher holds its batches, and delivers them once consumers make room', async () => {
  const metrics = createHubMetrics(
    createMetricsRegistry({ prefix: 'telemetry_hub', version: 't', defaultMetrics: false }),
  );
  const buffer = new ReadingBuffer(10_000, 'drop-oldest', metrics);
  const redis = createRedis(server.url, { offlineQueue: false, commandTimeoutMs: 1000 });
  const publisher = new TaskPublisher({
    buffer,
    producer: new TaskProducer(redis, 'bounded', { maxDepth: 2 }),
    metrics,
    log: pino({ level: process.env.TEST_LOG ?? 'silent' }),
    taskType: 'telemetry.analyze',
    batchMaxReadings: 10,
    lingerMs: 5,
    retryMinMs: 20,
    retryMaxMs: 50,
  });
  publisher.start();
  const input = readings(50);
  buffer.add(input); // 5 tasks, 2 fit
  const taken: string[] = [];
  try {
    // 2 tasks in, the other 30 readings held (not dropped), and the limit keeps holding while nobody consumes.
    await waitFor(
      async () =>
        (await redis.llen('bounded:pending').catch(() => -1)) === 2 && publisher.heldReadings + buffer.size === 30,
    );
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await redis.llen('bounded:pending'), 2);
    assert.ok((await metrics.publishErrors.get()).values[0]!.value > 0, 'refusals are counted');
    while (taken.length < 5) {
      const raw = await redis.rpop('bounded:pending');
      if (raw) taken.push(raw);
      else await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    assert.equal(await publisher.stop(5000), 0);
    redis.disconnect();
  }
  const ids = taken.flatMap((raw) => parseEventsStrict(parseTaskEnvelope(raw).payload)).map((r) => r.event_id);
  assert.deepEqual(
    ids,
    input.map((r) => r.event_id),
    'every reading, once, in order',
  );
});
