import { test } from 'node:test';
import { createRedis } from '../redis-connection.js';
import assert from 'node:assert/strict';
import { useTestCluster } from '@telemetryhub/testkit';
import { QueueMaintenance } from '../redis-list/maintenance.js';
import { type FetchedTask, rawText } from '../task.js';
import { ShardedProducer } from './sharded-producer.js';
import { ShardedConsumer } from './sharded-consumer.js';
import { shardedQueueDepths } from './sharded-queue-stats.js';

// One queue sharded over a 3-primary cluster (a replica each): producers route by device, consumers serve all
// shards, and the load is spread over the primaries instead of sitting in one hash slot.
const { cluster, client } = useTestCluster(createRedis);

const task = (device: string, seq: number) =>
  JSON.stringify({
    id: `${device}/${seq}`,
    type: 'telemetry.analyze',
    created_at: new Date().toISOString(),
    payload: { readings: [{ device_id: device, seq }] },
  });
const idOf = (t: FetchedTask) => (JSON.parse(rawText(t.raw)) as { id: string }).id;

test('a sharded queue spreads over the primaries; a primary killed mid-consumption loses nothing', async (ctx) => {
  const redis = client();
  const producer = new ShardedProducer(redis, 'telemetry', 6);
  const primaries = await Promise.all(producer.shardQueues.map((q) => cluster().primaryFor(`${q}:pending`)));
  const ports = new Set(primaries.map((p) => p.port));
  assert.equal(ports.size, 3, `6 shards on ${ports.size} of the 3 primaries`);

  const devices = Array.from({ length: 60 }, (_, i) => `dev-${i}`);
  const all = devices.flatMap((d) => [0, 1, 2, 3, 4].map((seq) => task(d, seq)));
  assert.ok((await producer.enqueueBatches(all.map((t) => [t]))).every(Boolean));
  for (const p of new Set(primaries)) await cluster().waitReplicated(p);

  const consumers = [0, 1].map(() => new ShardedConsumer(redis, client(true), producer.shardQueues));
  const maintenance = new QueueMaintenance(redis, producer.shardQueues, {}, { intervalMs: 100 });
  maintenance.start();
  const victim = primaries[0]!;
  const seen = new Set<string>();
  let killed = false;
  let failures = 0;
  let takenWhileDown = 0;
  const deadline = Date.now() + 60_000;
  const depths = () => shardedQueueDepths(redis, producer.shardQueues).catch(() => null);
  try {
    const work = async (c: ShardedConsumer) => {
      while (seen.size < all.length || (await depths())?.processing !== 0) {
        assert.ok(Date.now() < deadline, `stuck with ${seen.size} of ${all.length} seen`);
        try {
          // Acks the dead primary had not replicated leave tasks in our processing lists: give them back.
          if (seen.size >= all.length) await c.requeueInFlight({ keepHeartbeat: true });
          const batch = await c.fetch(20, 200);
          for (const t of batch) seen.add(idOf(t));
          if (killed && !promoted) takenWhileDown += batch.length;
          await c.ack(batch.map((t) => t.raw));
        } catch {
          failures++;
          await new Promise((r) => setTimeout(r, 100));
        }
        if (!killed && seen.size >= 100) {
          victim.signal('SIGKILL');
          killed = true;
          void watchPromotion();
        }
      }
    };
    // The outage of shard 0 lasts until a replica serves its slot: watched apart from the consumers.
    let promoted = false;
    const watchPromotion = async () => {
      while (!promoted && Date.now() < deadline) {
        const now = await cluster()
          .primaryFor(`${producer.shardQueues[0]}:pending`)
          .catch(() => victim);
        promoted = now.port !== victim.port;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await Promise.all(consumers.map(work));
  } finally {
    await maintenance.stop();
  }
  ctx.diagnostic(`${failures} fetch/ack rounds failed during the failover; ${takenWhileDown} tasks taken meanwhile`);
  assert.ok(killed);
  assert.equal(seen.size, all.length, 'every task delivered');
  assert.ok(takenWhileDown > 0, 'the shards on the live primaries kept being served during the failover');
  const d = await shardedQueueDepths(redis, producer.shardQueues);
  assert.deepEqual([d.pending, d.processing, d.failed], [0, 0, 0]);
});
