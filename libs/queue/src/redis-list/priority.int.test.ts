import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRedis, type RedisClient } from '../redis-connection.js';
import { startTestRedis, stopTestRedis, type TestRedis } from '@telemetryhub/testkit';
import { RedisListProducer } from './producer.js';
import { ReliableConsumer } from './consumer.js';
import { queueDepths } from './queue-stats.js';
import { normalizeEnvelope, type TaskEnvelope } from '@telemetryhub/schemas';
import { rawText, type RawTask } from '../task.js';

let env: TestRedis<RedisClient> | undefined;
let redis: RedisClient;
let blocking: RedisClient;
let n = 0;
const freshQueue = () => `pq${++n}`;
const normal = (i: number): TaskEnvelope => ({
  id: `n-${i}`,
  type: 'telemetry.store',
  priority: 50,
  created_at: '2026-01-01T00:00:00.000Z',
  attempts: 0,
  payload: { i },
});
const idOf = (raw: RawTask) => (JSON.parse(rawText(raw)) as { id: string }).id;

before(async () => {
  env = await startTestRedis(createRedis);
  ({ redis, blocking } = env);
});
after(() => stopTestRedis(env));

test('an urgent task (the numeric-priority fixture) overtakes a backlog of normal work', async () => {
  const q = freshQueue();
  const producer = new RedisListProducer(redis, q);
  for (let i = 0; i < 2000; i += 500) await producer.enqueue(Array.from({ length: 500 }, (_, k) => normal(i + k)));
  const fixture = normalizeEnvelope(
    JSON.parse(
      readFileSync(new URL('../../../../fixtures/shapes/task-numeric-priority.json', import.meta.url), 'utf8'),
    ),
  );
  await producer.enqueue([fixture]);
  assert.equal((await queueDepths(redis, q)).pendingUrgent, 1);
  const [first, second] = await new ReliableConsumer(redis, blocking, q).fetch(2, 0);
  assert.equal(idOf(first!.raw), '3c2b1a09-8f7e-4d6c-b5a4-93827160f5e4');
  assert.equal(idOf(second!.raw), 'n-0', 'then the backlog, oldest first');
});

test('normal work is never starved by a stream of urgent work', async () => {
  const q = freshQueue();
  const producer = new RedisListProducer(redis, q);
  await producer.enqueue([normal(1), normal(2)]);
  await producer.enqueue(Array.from({ length: 50 }, (_, i) => ({ ...normal(100 + i), id: `u-${i}`, priority: 95 })));
  const consumer = new ReliableConsumer(redis, blocking, q, { maxUrgentStreak: 4 });
  const fetches: string[][] = [];
  for (let i = 0; i < 10; i++) fetches.push((await consumer.fetch(2, 0)).map((t) => idOf(t.raw)));
  const firstNormal = fetches.findIndex((f) => f.some((id) => id.startsWith('n-')));
  assert.equal(firstNormal, 4, 'the fifth fetch serves the normal lane first');
  assert.deepEqual(fetches[4], ['n-1', 'n-2']);
});

test('a plain producer reaches the urgent lane with LPUSH <q>:pending:high', async () => {
  const q = freshQueue();
  await redis.lpush(`${q}:pending`, JSON.stringify(normal(1)));
  await redis.lpush(`${q}:pending:high`, JSON.stringify({ type: 'telemetry.alert', id: 'by-hand', payload: {} }));
  const [first] = await new ReliableConsumer(redis, blocking, q).fetch(1, 0);
  assert.equal(idOf(first!.raw), 'by-hand');
});

test('an idle consumer notices urgent work while it waits', async () => {
  const q = freshQueue();
  const consumer = new ReliableConsumer(redis, blocking, q);
  const waiting = consumer.fetch(1, 3000);
  setTimeout(
    () => void redis.lpush(`${q}:pending:high`, JSON.stringify({ id: 'late-urgent', type: 't', payload: {} })),
    100,
  );
  const [got] = await waiting;
  assert.equal(idOf(got!.raw), 'late-urgent');
});
