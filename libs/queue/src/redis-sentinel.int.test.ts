import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisSentinel, RedisServer, until } from '@telemetryhub/testkit';
import type { RedisClient } from './redis-connection.js';
import { createRedis } from './redis-connection.js';
import { RedisListProducer } from './redis-list/producer.js';
import { ReliableConsumer } from './redis-list/consumer.js';
import { rawText } from './task.js';

let primary: RedisServer;
let replica: RedisServer;
let sentinel: RedisSentinel;
const clients: RedisClient[] = [];
const client = (url: string, blocking = false) => {
  const c = createRedis(url, { blocking, commandTimeoutMs: 1000, connectTimeoutMs: 1000 });
  clients.push(c);
  return c;
};

before(async () => {
  primary = await RedisServer.start();
  replica = await RedisServer.start({ extraArgs: ['--replicaof', '127.0.0.1', String(primary.port)] });
  sentinel = await RedisSentinel.start(primary.port);
});
after(async () => {
  for (const c of clients) c.disconnect();
  await sentinel?.stop();
  await replica?.stop();
  await primary?.stop();
});

const task = (i: number) =>
  JSON.stringify({ id: `t-${i}`, type: 'telemetry.store', created_at: '2026-01-01T00:00:00Z', payload: { i } });

test('a redis-sentinel:// URL follows the primary through a failover; replicated tasks are all still there', async () => {
  const url = sentinel.url;
  const redis = client(url);
  const producer = new RedisListProducer(redis, 'sq');
  for (let i = 0; i < 100; i++) await producer.enqueue([task(i)]);
  // Redis replicates asynchronously: WAIT makes sure the replica has every task before the primary dies.
  await until('the replica has acknowledged every write', async () => (await redis.wait(1, 200)) === 1);

  primary.signal('SIGKILL');
  // The client keeps retrying until the sentinel has promoted the replica; then it writes there. An enqueue that
  // timed out may still have been sent once the connection came back: a producer's retry is at-least-once (the
  // processor dedups by event id), so only a task whose enqueue was retried may appear twice.
  const retried = new Set<string>();
  for (let i = 100; i < 200; i++) {
    await until(
      `task ${i} enqueued after the failover`,
      async () => {
        try {
          await producer.enqueue([task(i)]);
          return true;
        } catch {
          retried.add(`t-${i}`);
          return false;
        }
      },
      30_000,
      100,
    );
  }
  assert.equal(await redis.call('ROLE').then((r) => (r as string[])[0]), 'master');
  const [, port] = (await redis.config('GET', 'port')) as [string, string];
  assert.equal(Number(port), replica.port, 'the client now talks to the promoted replica');

  const consumer = new ReliableConsumer(client(url), client(url, true), 'sq');
  const seen: string[] = [];
  while (new Set(seen).size < 200) {
    const batch = await consumer.fetch(100, 500);
    assert.ok(batch.length > 0, `tasks still missing after ${seen.length}`);
    seen.push(...batch.map((t) => (JSON.parse(rawText(t.raw)) as { id: string }).id));
    await consumer.ack(batch.map((t) => t.raw));
  }
  assert.deepEqual(
    [...new Set(seen)],
    Array.from({ length: 200 }, (_, i) => `t-${i}`),
    'every task, in order',
  );
  const doubled = seen.filter((id, i) => seen.indexOf(id) !== i);
  assert.deepEqual(
    doubled.filter((id) => !retried.has(id)),
    [],
    'only a retried enqueue is doubled',
  );
});
