import { after, before, test } from 'node:test';
import { createRedis, type RedisClient } from '../redis-connection.js';
import assert from 'node:assert/strict';
import { startTestRedis, stopTestRedis, type TestRedis } from '@telemetryhub/testkit';
import { createQueueConsumer, createQueueProducer, createQueueStats } from '../driver-factory.js';
import { QueueMaintenance } from '../redis-list/maintenance.js';
import { queueKeys } from '../keys.js';
import type { QueueConsumer } from '../driver.js';
import type { TaskEnvelope } from '@telemetryhub/schemas';
import { ShardedDeadLetterQueue } from './sharded-dead-letter-queue.js';
import { shardIndex, shardQueueNames } from './shard-routing.js';
import { rawText, type RawTask } from '../task.js';

const SHARDS = 4;
let env: TestRedis<RedisClient>;
let n = 0;
const freshQueue = () => `sq${++n}`;

/** A hub-like task: readings of one device, numbered. */
const task = (device: string, seq: number, priority = 50): TaskEnvelope => ({
  id: `${device}-${seq}`,
  type: 'telemetry.analyze',
  priority,
  created_at: new Date().toISOString(),
  attempts: 0,
  payload: { readings: [{ device_id: device, seq }] },
});
const idOf = (raw: RawTask) => (JSON.parse(rawText(raw)) as TaskEnvelope).id;

before(async () => {
  env = await startTestRedis(createRedis);
});
after(() => stopTestRedis(env));

function consumer(queue: string, leaseMs = 30_000): QueueConsumer {
  const { consumer: c, connection } = createQueueConsumer('redis-list', {
    redis: env.redis,
    redisUrl: env.server.url,
    queue,
    leaseMs,
    blockMs: 100,
    shards: SHARDS,
  });
  after(() => connection.disconnect());
  return c;
}

test('each device goes to its shard, in order; consumers serving all shards take every task once', async () => {
  const q = freshQueue();
  const producer = createQueueProducer('redis-list', env.redis, q, { shards: SHARDS });
  const devices = Array.from({ length: 24 }, (_, i) => `dev-${i}`);
  const all = devices.flatMap((d) => [1, 2, 3, 4, 5].map((seq) => task(d, seq)));
  await producer.enqueue(all.slice(0, 60));
  assert.deepEqual(
    await producer.enqueueBatches(all.slice(60).map((t) => [t])),
    all.slice(60).map(() => true),
  );
  assert.equal(await producer.pendingDepth(), all.length);

  const shards = shardQueueNames(q, SHARDS);
  const used = new Set<number>();
  for (const [s, name] of shards.entries()) {
    const held = (await env.redis.lrange(queueKeys(name).pending, 0, -1)).reverse().map(idOf);
    for (const id of held) assert.equal(shardIndex(id.replace(/-\d+$/, ''), SHARDS), s, `${id} on shard ${s}`);
    for (const d of devices) {
      const seqs = held.filter((id) => id.startsWith(`${d}-`)).map((id) => Number(id.split('-')[2]));
      if (seqs.length) assert.deepEqual(seqs, [1, 2, 3, 4, 5], `${d}: all its tasks on one shard, in order`);
    }
    if (held.length) used.add(s);
  }
  assert.ok(used.size >= 3, `24 devices spread over the shards (used ${[...used].join(', ')})`);

  const a = consumer(q);
  const b = consumer(q);
  const seen: string[] = [];
  const drain = async (c: QueueConsumer) => {
    for (;;) {
      const got = await c.fetch(7, 50);
      if (got.length === 0) return;
      seen.push(...got.map((t) => idOf(t.raw)));
      assert.equal(await c.ack(got.map((t) => t.raw)), got.length, 'every task taken is acked in its shard');
    }
  };
  await Promise.all([drain(a), drain(b)]);
  assert.deepEqual([...seen].sort(), all.map((t) => t.id).sort(), 'each task exactly once');
  const depths = await createQueueStats('redis-list', env.redis, q, SHARDS).depths();
  assert.deepEqual(
    { pending: depths.pending, processing: depths.processing, failed: depths.failed, consumers: depths.consumers },
    { pending: 0, processing: 0, failed: 0, consumers: 2 },
  );
});

test('a waiting consumer wakes for a task on any shard', async () => {
  const q = freshQueue();
  const c = consumer(q);
  const producer = createQueueProducer('redis-list', env.redis, q, { shards: SHARDS });
  // One device per shard, pushed while the consumer waits: each is found whichever shard it waits on.
  const byShard = new Map<number, string>();
  for (let i = 0; byShard.size < SHARDS; i++) byShard.set(shardIndex(`w-${i}`, SHARDS), `w-${i}`);
  for (const device of byShard.values()) {
    const waiting = c.fetch(10, 10_000);
    setTimeout(() => void producer.enqueue([task(device, 1)]), 30);
    const got = await waiting;
    assert.deepEqual(
      got.map((t) => idOf(t.raw)),
      [`${device}-1`],
    );
    await c.ack(got.map((t) => t.raw));
  }
});

test('retry, dead letter, replay and the reaper work shard by shard, and stats add the shards up', async () => {
  const q = freshQueue();
  const shards = shardQueueNames(q, SHARDS);
  const producer = createQueueProducer('redis-list', env.redis, q, { shards: SHARDS });
  const devices = Array.from({ length: 12 }, (_, i) => `r-${i}`);
  await producer.enqueue(devices.map((d) => task(d, 1)));
  const c = consumer(q, 300);
  const got = await c.fetch(100, 0);
  assert.equal(got.length, devices.length);

  // Two retries and two dead letters, on whatever shards those tasks live in; the rest stays held.
  const [r1, r2, d1, d2, ...held] = got.map((t) => t.raw);
  assert.equal(await c.retryLater(r1!, Date.now() - 1), true);
  assert.equal(await c.retryLater(r2!, Date.now() + 60_000), true);
  assert.equal(await c.retryLater(r2!, Date.now()), false, 'no longer held');
  for (const raw of [d1!, d2!]) {
    const now = new Date().toISOString();
    await c.deadLetter(raw, {
      reason: 'poison',
      message: 'bad',
      task_id: idOf(raw),
      task_type: 'telemetry.analyze',
      attempts: 1,
      first_failed_at: now,
      last_failed_at: now,
    });
  }
  const stats = createQueueStats('redis-list', env.redis, q, SHARDS);
  let d = await stats.depths();
  assert.deepEqual([d.pending, d.processing, d.delayed, d.failed], [0, held.length, 2, 2]);

  const maintenance = new QueueMaintenance(env.redis, shards);
  assert.equal(await maintenance.promoteDue(), 1, 'the due retry, from its shard');
  // The consumer stops beating: its lease (300 ms) lapses in every shard and the reaper returns what it held.
  c.stopHeartbeat();
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(await maintenance.reapExpired(), held.length);
  d = await stats.depths();
  assert.deepEqual([d.pending, d.processing, d.delayed], [held.length + 1, 0, 1]);

  const dlq = new ShardedDeadLetterQueue(env.redis, shards);
  assert.equal(await dlq.count(), 2);
  const listed = await dlq.list();
  assert.deepEqual(listed.map((e) => e.record?.task_id).sort(), [idOf(d1!), idOf(d2!)].sort());
  assert.deepEqual(
    listed.map((e) => e.index),
    [0, 1],
    'indexes count across the shards',
  );
  assert.equal((await dlq.get(1))?.record?.task_id, listed[1]!.record?.task_id);
  assert.equal(await dlq.get(2), null);
  assert.deepEqual(
    (await dlq.list({ offset: 1 })).map((e) => e.index),
    [1],
  );
  assert.equal(await dlq.replayAt(1), true);
  assert.equal(await dlq.replay(), 1);
  assert.equal(await dlq.count(), 0);
  // Replayed onto the shard each failed in: still routed by device.
  for (const raw of [d1!, d2!]) {
    const s = shardIndex(idOf(raw).replace(/-\d+$/, ''), SHARDS);
    assert.ok((await env.redis.lrange(queueKeys(shards[s]!).pending, 0, -1)).includes(rawText(raw)));
  }
  d = await stats.depths();
  assert.equal(d.pending, held.length + 3);
});

/** Devices that route to the given shards, one each. */
function deviceOn(shard: number, prefix: string): string {
  for (let i = 0; ; i++) if (shardIndex(`${prefix}-${i}`, SHARDS) === shard) return `${prefix}-${i}`;
}

test('urgent work on any shard overtakes a normal backlog on the others, without starving it', async () => {
  const q = freshQueue();
  const producer = createQueueProducer('redis-list', env.redis, q, { shards: SHARDS });
  // A normal backlog on every shard; urgent tasks on one shard only.
  const backlog = [0, 1, 2, 3].flatMap((s) => [1, 2, 3].map((seq) => task(deviceOn(s, 'n'), seq)));
  await producer.enqueue(backlog);
  const hot = deviceOn(2, 'u');
  await producer.enqueue(Array.from({ length: 20 }, (_, i) => task(hot, i, 90)));
  const c = consumer(q);
  const kinds: string[] = [];
  for (let i = 0; i < 10; i++) {
    const got = await c.fetch(2, 0);
    kinds.push(got.map((t) => (idOf(t.raw).startsWith('u-') ? 'U' : 'n')).join(''));
    await c.ack(got.map((t) => t.raw));
  }
  // The first fetch, whichever shard the rotation starts at, takes urgent work; the guard then lets normal
  // work through at least every fifth fetch while urgent work keeps waiting.
  assert.deepEqual(kinds.slice(0, 5), ['UU', 'UU', 'UU', 'UU', 'nn'], kinds.join(' '));
  assert.ok(kinds.slice(5, 10).includes('nn'), kinds.join(' '));
});

test('a task handed back as text (not the Buffer fetched) is still settled in its own shard', async () => {
  const q = freshQueue();
  const producer = createQueueProducer('redis-list', env.redis, q, { shards: SHARDS });
  await producer.enqueue([task(deviceOn(0, 'text'), 1), task(deviceOn(1, 'text'), 1)]);
  const c = consumer(q);
  const got = await c.fetch(10, 0);
  assert.equal(got.length, 2);
  assert.ok(got.every((t) => Buffer.isBuffer(t.raw)));
  assert.equal(await c.ack(got.map((t) => rawText(t.raw))), 2);
  assert.equal(await c.inFlight(), 0);
  assert.equal(await c.ack(got.map((t) => t.raw)), 0, 'settled once');
});
