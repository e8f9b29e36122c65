import { after, before, describe, test } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { RedisServer, freePort, until } from '@telemetryhub/testkit';
import { createMetricsRegistry } from '@telemetryhub/service-kit';
import { parseEventsStrict, parseTaskEnvelope, type Reading } from '@telemetryhub/schemas';
import { ShardedProducer, RedisListProducer, shardIndex, createRedis } from '@telemetryhub/queue';
import { createHubMetrics } from '../metrics/hub-metrics.js';
import { ReadingBuffer } from '../buffer/reading-buffer.js';
import { SimulatedDriver } from '../drivers/simulated-driver.js';
import { TaskPublisher } from './task-publisher.js';
import { TaskSpool } from '../spool/task-spool.js';
import { AckTicket, NotDurableError } from '../buffer/ack-ticket.js';

let server: RedisServer;
before(async () => {
  server = await RedisServer.start();
});
after(() => server.stop());

function setup(queue: string, batchMaxReadings: number, lingerMs = 20, payloadFormat?: 'columns' | 'readings') {
  const metrics = createHubMetrics(
    createMetricsRegistry({ service: 'telemetryhub-hub', version: 't', defaultMetrics: false }),
  );
  const buffer = new ReadingBuffer(100_000, 'drop-oldest', metrics);
  const redis = createRedis(server.url, { offlineQueue: false, commandTimeoutMs: 1000 });
  const publisher = new TaskPublisher({
    buffer,
    producer: new RedisListProducer(redis, queue),
    metrics,
    log: pino({ level: process.env.TEST_LOG ?? 'silent' }),
    taskType: 'telemetry.analyze',
    batchMaxReadings,
    lingerMs,
    retryMinMs: 50,
    retryMaxMs: 200,
    ...(payloadFormat ? { payloadFormat } : {}),
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

test('publishes readings in columns unless told rows: the same readings either way', async () => {
  const input = readings(150);
  for (const [format, key] of [
    [undefined, 'columns'],
    ['columns', 'columns'],
    ['readings', 'readings'],
  ] as const) {
    const queue = `format-${format ?? 'default'}`;
    const { buffer, redis, publisher } = setup(queue, 100, 20, format);
    publisher.start();
    buffer.add(input);
    assert.equal(await publisher.stop(5000), 0);
    const raws = await redis.lrange(`${queue}:pending`, 0, -1);
    redis.disconnect();
    assert.deepEqual(
      raws.map((raw) => Object.keys((JSON.parse(raw) as { payload: object }).payload)),
      [[key], [key]],
      `${format ?? 'default'}: the payload's one key`,
    );
    assert.deepEqual(await drainQueue(server.url, queue), input, `${format ?? 'default'}: every reading as it was`);
  }
});

test('holds its batch through a Redis outage and delivers everything once Redis is back', async () => {
  const { buffer, redis, publisher, metrics } = setup('outage', 50);
  publisher.start();
  const first = readings(100);
  buffer.add(first);
  await until('the first two tasks are in', async () => (await redis.llen('outage:pending').catch(() => 0)) === 2);
  await server.restart(); // Redis comes back empty (no AOF): only what is published after is checked
  server.signal('SIGSTOP');
  const second = readings(300).slice(100);
  buffer.add(second);
  await until('the outage is seen', async () => (await metrics.publishErrors.get()).values[0]!.value > 0);
  server.signal('SIGCONT');
  await until('the held batch is delivered', async () => (await redis.llen('outage:pending').catch(() => 0)) >= 4);
  assert.equal(await publisher.stop(5000), 0);
  redis.disconnect();
  const published = await drainQueue(server.url, 'outage');
  const ids = published.map((r) => r.event_id);
  for (const r of second) assert.ok(ids.includes(r.event_id), 'every reading of the outage arrived');
  assert.ok((await metrics.publishErrors.get()).values[0]!.value > 0, 'the outage was seen and counted');
});

test('at the queue depth limit the publisher holds its batches, and delivers them once consumers make room', async () => {
  const metrics = createHubMetrics(
    createMetricsRegistry({ service: 'telemetryhub-hub', version: 't', defaultMetrics: false }),
  );
  const buffer = new ReadingBuffer(10_000, 'drop-oldest', metrics);
  const redis = createRedis(server.url, { offlineQueue: false, commandTimeoutMs: 1000 });
  const publisher = new TaskPublisher({
    buffer,
    producer: new RedisListProducer(redis, 'bounded', { maxDepth: 2 }),
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
    await until(
      'two tasks are in and 30 readings held',
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

test("on a sharded queue each task holds one shard's devices, and each device stays in order on its shard", async () => {
  const metrics = createHubMetrics(
    createMetricsRegistry({ service: 'telemetryhub-hub', version: 't', defaultMetrics: false }),
  );
  const buffer = new ReadingBuffer(10_000, 'drop-oldest', metrics);
  const redis = createRedis(server.url, { offlineQueue: false, commandTimeoutMs: 1000 });
  const producer = new ShardedProducer(redis, 'sharded', 4);
  const publisher = new TaskPublisher({
    buffer,
    producer,
    metrics,
    log: pino({ level: process.env.TEST_LOG ?? 'silent' }),
    taskType: 'telemetry.analyze',
    batchMaxReadings: 40,
    lingerMs: 5,
  });
  const input = new SimulatedDriver({
    devices: 12,
    rateHz: 1,
    metrics: ['temperature'],
    site: 's',
    region: 'r',
    seed: 2,
  }).sampleAll(100, Date.parse('2026-01-01T00:00:00Z')); // 100 per device
  publisher.start();
  buffer.add(input);
  assert.equal(await publisher.stop(5000), 0);
  redis.disconnect();

  const published: Reading[] = [];
  for (const [s, queue] of producer.shardQueues.entries()) {
    const check = createRedis(server.url);
    const raws = (await check.lrange(`${queue}:pending`, 0, -1)).reverse();
    check.disconnect();
    for (const raw of raws) {
      const rs = parseEventsStrict(parseTaskEnvelope(raw).payload);
      assert.ok(rs.length <= 40, 'a task holds at most the batch size');
      for (const r of rs) assert.equal(shardIndex(r.device_id, 4), s, `${r.device_id} published on shard ${s}`);
      published.push(...rs);
    }
  }
  assert.equal(published.length, input.length, 'every reading, once');
  for (const device of new Set(input.map((r) => r.device_id))) {
    assert.deepEqual(
      published.filter((r) => r.device_id === device).map((r) => r.event_id),
      input.filter((r) => r.device_id === device).map((r) => r.event_id),
      `${device} in order`,
    );
  }
});

test('an ack ticket settles only once its readings are in Redis; an evicted reading fails it', async () => {
  const { buffer, redis, publisher, metrics } = setup('acks', 100);
  const input = readings(250);
  const ticket = new AckTicket(150);
  buffer.add(input.slice(0, 150), ticket);
  let settledAt = -1;
  void ticket.done.then(async () => {
    settledAt = await redis.llen('acks:pending');
  });
  publisher.start();
  await ticket.done;
  await until('observed', async () => settledAt >= 0);
  // Both tasks of its readings (100 + 50) were in Redis when it settled.
  assert.ok(settledAt >= 2, `settled with ${settledAt} tasks in Redis`);
  assert.equal(await publisher.stop(5000), 0);
  // A ring of 10: the 11th reading evicts the first, whose producer is told to resend.
  const small = new ReadingBuffer(10, 'drop-oldest', metrics);
  const early = new AckTicket(5);
  small.add(input.slice(0, 5), early);
  small.add(input.slice(5, 11), new AckTicket(6));
  await assert.rejects(early.done, (err: unknown) => err instanceof NotDurableError && err.reason === 'evicted');
  redis.disconnect();
});

test('group commit: requests arriving within one linger share one publish, and every one of them is acknowledged', async () => {
  // A linger long enough that three requests a few ms apart fall inside it even on a loaded machine (a timer of
  // 3 ms can fire tens of ms late there).
  const { buffer, redis, publisher, metrics } = setup('acks-group', 100, 1000);
  const input = readings(30);
  publisher.start();
  // Three requests a few ms apart, inside the linger: without it each would be a publish of its own.
  const tickets: AckTicket[] = [];
  for (const i of [0, 10, 20]) {
    const t = new AckTicket(10);
    buffer.add(input.slice(i, i + 10), t);
    tickets.push(t);
    await new Promise((r) => setTimeout(r, 3));
  }
  await Promise.all(tickets.map((t) => t.done));
  const pushes = (await metrics.publishDuration.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value;
  assert.equal(pushes, 1, 'one round trip for the three requests');
  assert.equal(await redis.llen('acks-group:pending'), 1, 'one task of their 30 readings');
  assert.equal(await publisher.stop(5000), 0);
  redis.disconnect();
});

test('with Redis away and no spool, a ticket waits; stop() fails it rather than let it look stored', async () => {
  const metrics = createHubMetrics(
    createMetricsRegistry({ service: 'telemetryhub-hub', version: 't', defaultMetrics: false }),
  );
  const buffer = new ReadingBuffer(1000, 'drop-oldest', metrics);
  const redis = createRedis(`redis://127.0.0.1:${await freePort()}`, { offlineQueue: false, commandTimeoutMs: 200 });
  const publisher = new TaskPublisher({
    buffer,
    producer: new RedisListProducer(redis, 'acks-down'),
    metrics,
    log: pino({ level: 'silent' }),
    taskType: 'telemetry.analyze',
    batchMaxReadings: 100,
    lingerMs: 10,
    retryMinMs: 50,
    retryMaxMs: 100,
  });
  const ticket = new AckTicket(10);
  buffer.add(readings(10), ticket);
  publisher.start();
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(ticket.isFinished, false, 'not acknowledged while nothing is durable');
  await publisher.stop(300);
  await assert.rejects(ticket.done, (err: unknown) => err instanceof NotDurableError && err.reason === 'shutdown');
  redis.disconnect();
});

describe('with a disk spool', () => {
  let aof: RedisServer;
  let dir: string;
  before(async () => {
    aof = await RedisServer.start({ appendOnly: true });
    dir = await mkdtemp(join(tmpdir(), 'hub-spool-'));
  });
  after(async () => {
    await aof.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function spooled(queue: string, spoolDir: string, opts: { maxDepth?: number; batch?: number } = {}) {
    const metrics = createHubMetrics(
      createMetricsRegistry({ service: 'telemetryhub-hub', version: 't', defaultMetrics: false }),
    );
    const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
    const spool = await TaskSpool.open({
      dir: spoolDir,
      capacityBytes: 64 * 1024 * 1024,
      segmentBytes: 16 * 1024,
      metrics,
      log,
    });
    const buffer = new ReadingBuffer(100_000, 'drop-oldest', metrics);
    const redis = createRedis(aof.url, { offlineQueue: false, commandTimeoutMs: 1000 });
    const publisher = new TaskPublisher({
      buffer,
      producer: new RedisListProducer(redis, queue, opts.maxDepth ? { maxDepth: opts.maxDepth } : {}),
      metrics,
      log,
      taskType: 'telemetry.analyze',
      batchMaxReadings: opts.batch ?? 50,
      lingerMs: 10,
      retryMinMs: 50,
      retryMaxMs: 200,
      spool,
    });
    return { buffer, redis, publisher, metrics, spool };
  }

  const value = async (m: { get(): Promise<{ values: Array<{ value: number }> }> }) =>
    (await m.get()).values.reduce((n, v) => n + v.value, 0);

  test('an outage goes to disk, and replays oldest first before live traffic once Redis is back', async () => {
    const { buffer, redis, publisher, metrics, spool } = await spooled('spooled', join(dir, 'a'));
    const input = readings(600);
    publisher.start();
    buffer.add(input.slice(0, 100));
    await until('the first tasks are in', async () => (await redis.llen('spooled:pending').catch(() => 0)) === 2);
    await aof.pause();
    for (let i = 100; i < 400; i += 100) {
      buffer.add(input.slice(i, i + 100));
      await new Promise((r) => setTimeout(r, 30));
    }
    await until('everything of the outage is on disk', async () => buffer.size === 0 && publisher.heldReadings === 0);
    assert.equal(await value(metrics.circuitOpen), 1);
    // (Tasks published before the client's first connect may have gone through the spool too.)
    const written = await value(metrics.spoolWrittenTasks);
    const outageTasks = written - (await value(metrics.spoolReplayedTasks));
    assert.ok(outageTasks >= 6, 'all 300 readings of the outage are on disk');
    assert.equal(spool.pendingTasks, outageTasks);
    await aof.resume();
    buffer.add(input.slice(400)); // live traffic while the spool replays
    await until('the spool is replayed', async () => spool.isEmpty && (await value(metrics.publishedReadings)) === 600);
    assert.equal(await publisher.stop(5000), 0);
    await spool.close();
    redis.disconnect();
    assert.deepEqual(
      (await drainQueue(aof.url, 'spooled')).map((r) => r.event_id),
      input.map((r) => r.event_id),
      'every reading once, in the order it was taken in',
    );
    assert.equal(
      await value(metrics.spoolReplayedTasks),
      await value(metrics.spoolWrittenTasks),
      'all spooled went out',
    );
    assert.equal(await value(metrics.circuitOpen), 0, 'the circuit closes once the spool is empty');
  });

  test('during an outage a ticket settles once its readings are fsynced to the spool; a full spool fails it', async () => {
    const { buffer, redis, publisher, spool } = await spooled('acks-spool', join(dir, 'acks'));
    const input = readings(200);
    await aof.pause();
    try {
      publisher.start();
      const ticket = new AckTicket(100);
      buffer.add(input.slice(0, 100), ticket);
      await ticket.done;
      assert.ok(spool.pendingTasks >= 1, 'on disk when acknowledged');
    } finally {
      await aof.resume();
    }
    await until('replayed', async () => spool.isEmpty);
    await publisher.stop(5000);
    await spool.close();
    redis.disconnect();
    // A spool with no room: the normal-priority task is dropped, and its producer is told.
    const tiny = await spooled('acks-tiny', join(dir, 'acks-tiny'));
    const tinySpool = await TaskSpool.open({
      dir: join(dir, 'acks-tiny-2'),
      capacityBytes: 64,
      metrics: tiny.metrics,
      log: pino({ level: 'silent' }),
    });
    const kept = await tinySpool.store([
      {
        id: 't',
        type: 'x',
        priority: 50,
        created_at: new Date().toISOString(),
        attempts: 0,
        payload: { readings: input },
      },
    ]);
    assert.deepEqual(kept, [false]);
    await tinySpool.close();
    await tiny.spool.close();
    tiny.redis.disconnect();
  });

  test('a hub stopped during an outage keeps its spool, and the next one replays it', async () => {
    const spoolDir = join(dir, 'b');
    const input = readings(300);
    const first = await spooled('restarted', spoolDir);
    await aof.pause();
    first.publisher.start();
    first.buffer.add(input.slice(0, 200));
    await until('the spool has tasks', async () => (await value(first.metrics.spoolWrittenTasks)) > 0);
    first.buffer.add(input.slice(200));
    assert.equal(await first.publisher.stop(5000), 0, 'stop moves what is in memory to the spool');
    const written = first.spool.pendingTasks;
    assert.ok(written >= 6);
    await first.spool.close();
    first.redis.disconnect();

    await aof.resume();
    const second = await spooled('restarted', spoolDir);
    assert.equal(second.spool.pendingTasks, written, 'the spool survived the restart');
    second.publisher.start();
    await until('the spool is replayed', async () => second.spool.isEmpty);
    assert.equal(await second.publisher.stop(5000), 0);
    await second.spool.close();
    second.redis.disconnect();
    assert.deepEqual(
      (await drainQueue(aof.url, 'restarted')).map((r) => r.event_id),
      input.map((r) => r.event_id),
    );
  });

  test('at the queue depth limit batches go to the spool, and arrive once, in order, as consumers make room', async () => {
    const { buffer, redis, publisher, metrics, spool } = await spooled('full', join(dir, 'c'), {
      maxDepth: 2,
      batch: 10,
    });
    await until('connected', async () => (await redis.ping().catch(() => '')) === 'PONG');
    const input = readings(60);
    publisher.start();
    buffer.add(input); // 6 tasks, 2 fit
    const taken: string[] = [];
    try {
      await until('the refused tasks are on disk', async () => spool.pendingTasks >= 4);
      assert.equal(await redis.llen('full:pending'), 2);
      while (taken.length < 6) {
        const raw = await redis.rpop('full:pending');
        if (raw) taken.push(raw);
        else await new Promise((r) => setTimeout(r, 10));
      }
      await until('the spool is empty', async () => spool.isEmpty);
    } finally {
      assert.equal(await publisher.stop(5000), 0);
      await spool.close();
      redis.disconnect();
    }
    assert.deepEqual(
      taken.flatMap((raw) => parseEventsStrict(parseTaskEnvelope(raw).payload)).map((r) => r.event_id),
      input.map((r) => r.event_id),
      'every reading, once, in order',
    );
    assert.ok((await value(metrics.spoolReplayedTasks)) >= 4, 'the refused tasks went through the spool');
  });
});
