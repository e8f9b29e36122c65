import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { startTestRedis, stopTestRedis, type TestRedis } from './test-redis.js';
import { TaskProducer } from './producer.js';
import { ReliableConsumer } from './consumer.js';

// Redis at maxmemory with noeviction refuses LPUSH/LMOVE. Consumers must still drain the queue (moving a task
// from pending to processing and acking it frees memory, it never adds any), so the system recovers by itself.

let env: TestRedis | undefined;
let redis: Redis;
let blocking: Redis;

before(async () => {
  env = await startTestRedis({ maxMemory: '3mb' });
  ({ redis, blocking } = env);
});
after(() => stopTestRedis(env));

test('with Redis full, producers are refused, consumers still drain, and producers resume by themselves', async () => {
  const producer = new TaskProducer(redis, 'full');
  const body = 'x'.repeat(1000);
  let accepted = 0;
  let refusal: Error | undefined;
  for (let i = 0; i < 100_000 && !refusal; i++) {
    try {
      await producer.enqueue([JSON.stringify({ id: `t${i}`, type: 't', payload: { body } })]);
      accepted++;
    } catch (err) {
      refusal = err as Error;
    }
  }
  assert.match(String(refusal?.message), /OOM/, 'the producer is told');
  assert.ok(accepted > 100);

  const consumer = new ReliableConsumer(redis, blocking, 'full');
  let drained = 0;
  for (;;) {
    const got = await consumer.fetch(100, 0);
    if (!got.length) break;
    assert.equal(await consumer.ack(got.map((t) => t.raw)), got.length);
    drained += got.length;
  }
  assert.equal(drained, accepted, 'every accepted task was consumed while Redis was full');
  await producer.enqueue([JSON.stringify({ id: 'after', type: 't', payload: {} })]);
  assert.equal(await producer.pendingDepth(), 1, 'producers resume once consumers have made room');
});
