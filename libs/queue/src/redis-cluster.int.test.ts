import { test } from 'node:test';
import { createRedis } from './redis-connection.js';
import assert from 'node:assert/strict';
import { until } from '@telemetryhub/testkit';
import { useTestCluster } from '@telemetryhub/testkit';
import { RedisListProducer } from './redis-list/producer.js';
import { ReliableConsumer } from './redis-list/consumer.js';
import { type FetchedTask, rawText } from './task.js';
import { QueueMaintenance } from './redis-list/maintenance.js';
import { DeadLetterQueue } from './redis-list/dead-letter-queue.js';
import { queueDepths } from './redis-list/queue-stats.js';
import { driverUnderTest } from './conformance/drivers.test-support.js';

// Three primaries with a replica each, on loopback. Queue names carry a hash tag, so each queue's keys share one
// slot (the Lua scripts touch several keys of a queue at once) and different queues spread over the primaries.
const { cluster, client } = useTestCluster(createRedis);

const task = (i: number) =>
  JSON.stringify({ id: `t-${i}`, type: 'telemetry.store', created_at: '2026-01-01T00:00:00Z', payload: { i } });
const idOf = (t: FetchedTask) => (JSON.parse(rawText(t.raw)) as { id: string }).id;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

test('a hash-tagged queue on a cluster: FIFO batched fetch, ack, retry, dead letter and the reaper', async () => {
  const redis = client();
  const queue = '{cq}';
  await new RedisListProducer(redis, queue).enqueue(range(30).map(task));
  const consumer = new ReliableConsumer(redis, client(true), queue, { leaseMs: 300 });

  const first = await consumer.fetch(10, 500);
  assert.deepEqual(
    first.map(idOf),
    range(10).map((i) => `t-${i}`),
  );
  assert.equal(await consumer.ack(first.map((t) => t.raw)), 10);

  const [retried, poisoned, ...rest] = await consumer.fetch(10, 500);
  assert.equal(await consumer.retryLater(retried!.raw, Date.now()), true);
  await consumer.deadLetter(poisoned!.raw, {
    reason: 'poison',
    message: 'cannot parse',
    task_id: idOf(poisoned!),
    task_type: 'telemetry.store',
    attempts: 1,
    first_failed_at: new Date().toISOString(),
    last_failed_at: new Date().toISOString(),
  });
  assert.deepEqual(
    (await new DeadLetterQueue(redis, queue).list()).map((e) => [e.record?.task_id, e.record?.reason]),
    [['t-11', 'poison']],
  );
  // The rest is never acked and the consumer never beats its heart: its lease runs out, the reaper returns them.
  const maintenance = new QueueMaintenance(redis, queue, {}, { intervalMs: 50 });
  maintenance.start();
  try {
    const survivor = new ReliableConsumer(redis, client(true), queue);
    const got: FetchedTask[] = [];
    while (got.length < 19) {
      const batch = await survivor.fetch(50, 1000);
      assert.ok(batch.length > 0, `only ${got.length} of 19 came back`);
      got.push(...batch);
    }
    assert.deepEqual(
      got.map(idOf).sort(),
      [retried!, ...rest]
        .map(idOf)
        .concat(range(10).map((i) => `t-${i + 20}`))
        .sort(),
      'the retry, the reaped tasks and the untouched rest, each once',
    );
    assert.equal(got.find((t) => idOf(t) === 't-10')?.redeliveries, 1, 'the retry counted');
    assert.equal(await survivor.ack(got.map((t) => t.raw)), got.length);
  } finally {
    await maintenance.stop();
  }
  const depths = await queueDepths(redis, queue);
  assert.deepEqual([depths.pending, depths.processing, depths.delayed, depths.failed], [0, 0, 0, 1]);
});

test('the primary of a queue killed during consumption: a replica takes over and no task is lost', async (ctx) => {
  const redis = client();
  const queue = '{failover}';
  const total = 300;
  await new RedisListProducer(redis, queue).enqueue(range(total).map(task));
  const primary = await cluster().primaryFor(`${queue}:pending`);
  // Replication is asynchronous: tasks enqueued are safe from the primary's death once its replica has them.
  await cluster().waitReplicated(primary);

  const consumer = new ReliableConsumer(redis, client(true), queue, { leaseMs: 30_000 });
  const seen = new Set<string>();
  let deliveries = 0;
  let killed = false;
  let failures = 0;
  const deadline = Date.now() + 60_000;
  while (seen.size < total || (await queueDepths(redis, queue).catch(() => null))?.processing !== 0) {
    assert.ok(Date.now() < deadline, `stuck with ${seen.size} of ${total} seen`);
    try {
      if (seen.size >= total) {
        // An ack the dead primary had not replicated left tasks in our processing list on the new one: give
        // them back (what a restart or the shutdown path does) and take them again.
        await consumer.requeueInFlight({ keepHeartbeat: true });
      }
      const batch = await consumer.fetch(25, 200);
      for (const t of batch) seen.add(idOf(t));
      deliveries += batch.length;
      await consumer.ack(batch.map((t) => t.raw));
    } catch {
      failures++; // the primary is gone until its replica is promoted: retry
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!killed && seen.size >= 100) {
      primary.signal('SIGKILL');
      killed = true;
    }
  }
  assert.ok(killed, 'the primary was killed mid-consumption');
  ctx.diagnostic(`${failures} commands failed during the failover; ${deliveries - total} tasks delivered twice`);
  assert.equal(seen.size, total, 'every task delivered');
  const depths = await queueDepths(redis, queue);
  assert.deepEqual([depths.pending, depths.processing], [0, 0], 'nothing left behind');
  // Each node learns of the promotion in its own time: wait for one that has.
  await until(
    'a replica serves the queue now',
    async () => (await cluster().primaryFor(`${queue}:pending`)).port !== primary.port,
    15_000,
  );
});

test('bullmq on a cluster: a queue named with a hash tag takes, acks and counts like on one server', async () => {
  const d = driverUnderTest('bullmq', cluster().url);
  try {
    const queue = '{bq}';
    await d.producer(queue).enqueue(range(20).map(task));
    const consumer = d.consumer(queue);
    const got: FetchedTask[] = [];
    while (got.length < 20) {
      const batch = await consumer.fetch(20, 500);
      assert.ok(batch.length > 0, `only ${got.length} of 20`);
      got.push(...batch);
    }
    assert.deepEqual(
      got.map(idOf),
      range(20).map((i) => `t-${i}`),
      'FIFO',
    );
    assert.equal(await consumer.ack(got.map((x) => x.raw)), 20);
    const depths = await d.stats(queue).depths();
    assert.deepEqual([depths.pending, depths.processing], [0, 0]);
  } finally {
    await d.close();
  }
});
