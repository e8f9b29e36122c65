import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createRedis, type RedisClient } from '../redis-connection.js';
import { startTestRedis, stopTestRedis, type TestRedis } from '@telemetryhub/testkit';
import { RedisListProducer } from './producer.js';
import { ReliableConsumer } from './consumer.js';
import { type FetchedTask, rawText, type RawTask } from '../task.js';
import { QueueMaintenance } from './maintenance.js';
import { ShardedConsumer } from '../sharding/sharded-consumer.js';
import { ShardedProducer } from '../sharding/sharded-producer.js';
import { shardQueueNames } from '../sharding/shard-routing.js';

// Property: whatever the interleaving of fetches, acks (whole batches, in-order subsets, stale batches after
// a reap), dead letters, retries and reaps, every task is in exactly one place at every step, and after the
// queue is drained every task was acked or dead-lettered exactly once. For one queue and for a queue sharded
// over three (the tasks belong to five devices, so they spread over the shards).

let env: TestRedis<RedisClient> | undefined;
let redis: RedisClient;
let blocking: RedisClient;
let run = 0;

before(async () => {
  env = await startTestRedis(createRedis);
  ({ redis, blocking } = env);
});
after(() => stopTestRedis(env));

type Op =
  | { kind: 'fetch'; consumer: number; n: number }
  | { kind: 'ack'; consumer: number; batch: number; keep: boolean[] }
  | { kind: 'dead'; consumer: number; batch: number; pick: number }
  | { kind: 'retry'; consumer: number; batch: number; pick: number }
  | { kind: 'reap'; consumer: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('fetch' as const),
      consumer: fc.nat(1),
      n: fc.integer({ min: 1, max: 6 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('ack' as const),
      consumer: fc.nat(1),
      batch: fc.nat(5),
      keep: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('dead' as const),
      consumer: fc.nat(1),
      batch: fc.nat(5),
      pick: fc.nat(5),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('retry' as const),
      consumer: fc.nat(1),
      batch: fc.nat(5),
      pick: fc.nat(5),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reap' as const), consumer: fc.nat(1) }) },
);

for (const shards of [1, 3]) {
  test(`every task is in exactly one place at every step, and ends acked or dead-lettered exactly once (${shards} shard(s))`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 20 }), fc.array(op, { maxLength: 40 }), async (taskCount, ops) => {
        const q = `cons${++run}`;
        const queues = shardQueueNames(q, shards);
        const ids = Array.from({ length: taskCount }, (_, i) => `task-${i}`);
        const producer = shards > 1 ? new ShardedProducer(redis, q, shards) : new RedisListProducer(redis, q);
        await producer.enqueue(ids.map((id, i) => JSON.stringify({ id, payload: { device_id: `d${i % 5}` } })));
        const consumers = [0, 1].map((i) => {
          const opts = { consumerId: `c${i}`, leaseMs: 60_000 };
          return shards > 1
            ? new ShardedConsumer(redis, blocking, queues, opts)
            : new ReliableConsumer(redis, blocking, q, opts);
        });
        const batches: FetchedTask[][][] = [[], []]; // per consumer, every batch it fetched (stale ones too)
        const acked: string[] = [];
        const maintenance = new QueueMaintenance(redis, queues);
        const idOf = (raw: RawTask) => (JSON.parse(rawText(raw)) as { id: string }).id;
        const each = async <T>(read: (queue: string) => Promise<T[]>): Promise<T[]> =>
          (await Promise.all(queues.map(read))).flat();
        const processing = (c: number) => each((s) => redis.lrange(`${s}:processing:c${c}`, 0, -1));
        const deadRaws = () =>
          each((s) => redis.lrange(`${s}:failed`, 0, -1)).then((l) =>
            l.map((e) => (JSON.parse(e) as { raw: string }).raw),
          );

        const where = async (): Promise<string[]> => {
          const lists = await Promise.all([
            each((s) => redis.lrange(`${s}:pending`, 0, -1)),
            processing(0),
            processing(1),
            each((s) => redis.zrange(`${s}:delayed`, 0, -1)),
            deadRaws(),
          ]);
          return [...lists.flat().map(idOf), ...acked].sort();
        };

        for (const o of ops) {
          const c = consumers[o.consumer]!;
          const mine = batches[o.consumer]!;
          if (o.kind === 'fetch') {
            const got = await c.fetch(o.n, 0);
            if (got.length) mine.push(got);
          } else if (o.kind === 'reap') {
            // As the reaper does for a consumer whose lease expired (forced here: the lease is long).
            for (const s of queues) await redis.zadd(`${s}:consumers`, 0, `c${o.consumer}`);
            await maintenance.reapExpired();
          } else {
            const batch = mine[o.batch % Math.max(1, mine.length)];
            if (!batch || batch.length === 0) continue;
            if (o.kind === 'ack') {
              const subset = batch.filter((_, i) => o.keep[i % o.keep.length]);
              const heldBefore = new Set(await processing(o.consumer));
              const removed = await c.ack(subset.map((t) => t.raw));
              // Only what was really held counts as acked; the rest was reaped or settled before (a stale batch
              // may hold a task that was reaped and fetched again: then the ack removes the new holding of it).
              const heldAfter = new Set(await processing(o.consumer));
              const settled = subset.filter((t) => heldBefore.has(rawText(t.raw)) && !heldAfter.has(rawText(t.raw)));
              assert.equal(removed, settled.length, 'ack reports what it removed');
              acked.push(...settled.map((t) => idOf(t.raw)));
              batch.splice(0, batch.length, ...batch.filter((t) => !subset.includes(t)));
            } else {
              const t = batch[o.pick % batch.length]!;
              const heldBefore = await c.inFlight();
              if (o.kind === 'dead') {
                const stillHeld = (await processing(o.consumer)).includes(rawText(t.raw));
                if (!stillHeld) continue; // a dead letter of a task no longer held would be a (documented) duplicate record
                await c.deadLetter(t.raw, {
                  reason: 'poison',
                  message: 'm',
                  task_id: null,
                  task_type: null,
                  attempts: 1,
                  first_failed_at: '',
                  last_failed_at: '',
                });
              } else {
                await c.retryLater(t.raw, 0);
              }
              assert.ok((await c.inFlight()) <= heldBefore);
              batch.splice(batch.indexOf(t), 1);
            }
          }
          assert.deepEqual(await where(), [...ids].sort(), `after ${JSON.stringify(o)}`);
        }

        // Drain: promote retries, reap both consumers, then one consumer acks everything.
        await maintenance.promoteDue(Date.now() + 1);
        for (const s of queues) for (const i of [0, 1]) await redis.zadd(`${s}:consumers`, 0, `c${i}`);
        await maintenance.reapExpired();
        for (;;) {
          const got = await consumers[0]!.fetch(50, 0);
          if (!got.length) break;
          assert.equal(await consumers[0]!.ack(got.map((t) => t.raw)), got.length);
          acked.push(...got.map((t) => idOf(t.raw)));
        }
        const dead = (await deadRaws()).map(idOf);
        assert.deepEqual([...acked, ...dead].sort(), [...ids].sort());
      }),
      { numRuns: 150 },
    );
  });
}
