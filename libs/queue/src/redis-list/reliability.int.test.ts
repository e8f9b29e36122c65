import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRedis, type RedisClient } from '../redis-connection.js';
import { startTestRedis, stopTestRedis, type TestRedis } from '@telemetryhub/testkit';
import { RedisListProducer } from './producer.js';
import { ReliableConsumer } from './consumer.js';
import { type DeadLetterRecord, rawText, type RawTask } from '../task.js';
import { QueueMaintenance } from './maintenance.js';
import { DeadLetterQueue } from './dead-letter-queue.js';
import { queueDepths } from './queue-stats.js';
import { QueueFullError } from '../errors.js';

let env: TestRedis<RedisClient> | undefined;
let redis: RedisClient;
let blocking: RedisClient;
let n = 0;
const freshQueue = () => `rq${++n}`;
const task = (i: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    id: `t-${i}`,
    type: 'telemetry.store',
    created_at: '2026-01-01T00:00:00Z',
    payload: { i },
    ...extra,
  });
const ids = (raws: Array<{ raw: RawTask }>) => raws.map(({ raw }) => (JSON.parse(rawText(raw)) as { id: string }).id);

before(async () => {
  env = await startTestRedis(createRedis);
  ({ redis, blocking } = env);
});
after(() => stopTestRedis(env));

test('the reaper returns the tasks of a consumer whose lease expired, in order, counting a delivery', async () => {
  const q = freshQueue();
  await new RedisListProducer(redis, q).enqueue([task(1), task(2), task(3), task(4)]);
  const dead = new ReliableConsumer(redis, blocking, q, { leaseMs: 50 });
  assert.deepEqual(ids(await dead.fetch(3, 0)), ['t-1', 't-2', 't-3']);
  const maintenance = new QueueMaintenance(redis, q);
  assert.equal(await maintenance.reapExpired(Date.now()), 0, 'a live lease is left alone');
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(await maintenance.reapExpired(), 3);
  const heir = new ReliableConsumer(redis, blocking, q);
  const again = await heir.fetch(10, 0);
  assert.deepEqual(ids(again), ['t-1', 't-2', 't-3', 't-4']);
  assert.deepEqual(
    again.map((t) => t.redeliveries),
    [1, 1, 1, 0],
  );
  assert.equal((await queueDepths(redis, q)).consumers, 1, 'the dead consumer is forgotten');
  assert.equal(await dead.ack(['x']), 0);
});

test('a late ack from a consumer that was reaped removes nothing and loses nothing', async () => {
  const q = freshQueue();
  await new RedisListProducer(redis, q).enqueue([task(1)]);
  const slow = new ReliableConsumer(redis, blocking, q, { leaseMs: 30 });
  const [held] = await slow.fetch(1, 0);
  await new Promise((r) => setTimeout(r, 50));
  await new QueueMaintenance(redis, q).reapExpired();
  const heir = new ReliableConsumer(redis, blocking, q);
  const [redelivered] = await heir.fetch(1, 0);
  assert.equal(rawText(redelivered!.raw), rawText(held!.raw));
  assert.equal(await slow.ack([held!.raw]), 0, 'the late ack finds nothing to remove');
  assert.equal(await heir.ack([redelivered!.raw]), 1);
  const d = await queueDepths(redis, q);
  assert.deepEqual([d.pending, d.processing, d.delayed], [0, 0, 0]);
});

test('a retry waits in the delayed set until due, then comes back first, with its attempt counted', async () => {
  const q = freshQueue();
  await new RedisListProducer(redis, q).enqueue([task(1), task(2)]);
  const c = new ReliableConsumer(redis, blocking, q);
  const [first] = await c.fetch(1, 0);
  const due = Date.now() + 60_000;
  assert.equal(await c.retryLater(first!.raw, due), true);
  const m = new QueueMaintenance(redis, q);
  assert.equal(await m.promoteDue(due - 1), 0, 'not yet due');
  assert.equal((await queueDepths(redis, q)).delayed, 1);
  assert.equal(await m.promoteDue(due), 1);
  const next = await c.fetch(5, 0);
  assert.deepEqual(ids(next), ['t-1', 't-2'], 'the retried task is taken before the rest');
  assert.equal(next[0]!.redeliveries, 1);
  assert.ok((await c.firstFailure(first!.raw)) instanceof Date);
  await c.ack(next.map((t) => t.raw));
  assert.equal(await c.firstFailure(first!.raw), null, 'settling forgets the failure bookkeeping');
});

test('a bounded producer refuses a batch that would pass the depth limit, whole, with a typed error', async () => {
  const q = freshQueue();
  const producer = new RedisListProducer(redis, q, { maxDepth: 3 });
  assert.equal(await producer.enqueue([task(1), task(2)]), 2);
  await assert.rejects(producer.enqueue([task(3), task(4)]), QueueFullError);
  assert.equal(await producer.pendingDepth(), 2, 'nothing of the refused batch went in');
  assert.deepEqual(await producer.enqueueBatches([[task(3)], [task(4)]]), [true, false]);
});

test('the DLQ lists, filters, replays (once) and purges dead letters', async () => {
  const q = freshQueue();
  await new RedisListProducer(redis, q).enqueue([task(1), task(2, { type: 'x.bad' }), '{oops']);
  const c = new ReliableConsumer(redis, blocking, q);
  const now = new Date().toISOString();
  const fetched = await c.fetch(3, 0);
  const reasons = ['poison', 'unknown_type', 'invalid_envelope'] as const;
  for (const [i, t] of fetched.entries()) {
    await c.deadLetter(t.raw, {
      reason: reasons[i]!,
      message: 'm',
      task_id: `t-${i + 1}`,
      task_type: i === 1 ? 'x.bad' : 'telemetry.store',
      attempts: 1,
      first_failed_at: now,
      last_failed_at: now,
    });
  }
  const dlq = new DeadLetterQueue(redis, q);
  assert.equal(await dlq.count(), 3);
  const all = await dlq.list();
  assert.deepEqual(
    all.map((e) => e.record?.reason),
    ['invalid_envelope', 'unknown_type', 'poison'],
    'newest first',
  );
  assert.deepEqual(
    (await dlq.list({ filter: { type: 'x.bad' } })).map((e) => e.record?.task_id),
    ['t-2'],
  );
  assert.equal(await dlq.replay({ reason: 'poison' }), 1);
  assert.equal(await dlq.replay({ reason: 'poison' }), 0, 'a replayed entry is gone: never replayed twice');
  assert.deepEqual(ids(await c.fetch(5, 0)), ['t-1']);
  assert.equal(await dlq.replayAt(0), true);
  assert.equal(await redis.lindex(`${q}:pending`, 0), '{oops', 'the raw bytes go back, even when not JSON');
  assert.equal(await dlq.purge(), 1);
  assert.equal(await dlq.count(), 0);
  const record = all[2]!.record as DeadLetterRecord;
  assert.equal(record.consumer, c.consumerId);
});

test('queue depths report the age of the oldest pending task in either lane, whatever form its created_at has', async () => {
  const q = freshQueue();
  const now = Date.parse('2026-01-01T00:10:00Z');
  assert.equal((await queueDepths(redis, q, now)).oldestPendingAgeSeconds, null, 'empty queue');
  await redis.lpush(
    `${q}:pending`,
    JSON.stringify({ id: 'a', type: 't', created_at: '2026-01-01T00:08:00Z', payload: {} }),
  );
  assert.equal((await queueDepths(redis, q, now)).oldestPendingAgeSeconds, 120);
  const epochSeconds = Date.parse('2026-01-01T00:05:00Z') / 1000;
  await redis.lpush(`${q}:pending:high`, JSON.stringify({ id: 'b', type: 't', created_at: epochSeconds, payload: {} }));
  const d = await queueDepths(redis, q, now);
  assert.equal(d.oldestPendingAgeSeconds, 300, 'the urgent lane’s older task, given in epoch seconds');
  assert.deepEqual([d.pending, d.pendingUrgent], [2, 1]);
  await redis.lpush(`${q}:pending`, 'not json'); // newest, so the oldest is still readable
  assert.equal((await queueDepths(redis, q, now)).oldestPendingAgeSeconds, 300);
});
