import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { RedisClient } from '../redis-connection.js';
import { findOnPath, type RedisServer } from '@telemetryhub/testkit';
import { startTestRedis, stopTestRedis, type TestRedis } from '@telemetryhub/testkit';
import { RedisListProducer } from './producer.js';
import { ReliableConsumer } from './consumer.js';
import { type DeadLetterRecord, rawText } from '../task.js';
import { parseTaskEnvelope } from '@telemetryhub/schemas';
import { createRedis } from '../redis-connection.js';

let env: TestRedis<RedisClient> | undefined;
let server: RedisServer;
let redis: RedisClient;
let blocking: RedisClient;
let n = 0;
const freshQueue = () => `q${++n}`;
const task = (i: number) => ({
  id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
  type: 'telemetry.store',
  priority: 50,
  created_at: '2026-01-01T00:00:00.000Z',
  attempts: 0,
  payload: { i },
});

before(async () => {
  env = await startTestRedis(createRedis);
  ({ server, redis, blocking } = env);
});
after(() => stopTestRedis(env));

test('consumes in the order produced (FIFO), in batches', async () => {
  const q = freshQueue();
  const producer = new RedisListProducer(redis, q);
  await producer.enqueue([task(1), task(2), task(3)]);
  await producer.enqueueBatches([[task(4), task(5)], [task(6)]]);
  const consumer = new ReliableConsumer(redis, blocking, q);
  const first = await consumer.fetch(4, 0);
  const second = await consumer.fetch(4, 0);
  const order = [...first, ...second].map(
    ({ raw }) => (JSON.parse(rawText(raw)) as { payload: { i: number } }).payload.i,
  );
  assert.deepEqual(order, [1, 2, 3, 4, 5, 6]);
  assert.equal(first.length, 4);
});

test('a fetched task stays in the processing list until acked', async () => {
  const q = freshQueue();
  await new RedisListProducer(redis, q).enqueue([task(1), task(2)]);
  const consumer = new ReliableConsumer(redis, blocking, q);
  const got = await consumer.fetch(10, 0);
  assert.equal(await consumer.inFlight(), 2);
  assert.equal(await redis.llen(`${q}:pending`), 0);
  assert.equal(await consumer.ack(got.map((t) => t.raw)), 2);
  assert.equal(await consumer.inFlight(), 0);
});

test('a task is held as the bytes Redis stores: one that is not valid UTF-8 is acked and retried by value', async () => {
  const q = freshQueue();
  // 0xff never occurs in UTF-8: read as text it would become U+FFFD, and settling by that text would match nothing.
  const bytes = Buffer.concat([Buffer.from('{"id":"x"'), Buffer.from([0xff]), Buffer.from('}')]);
  await redis.lpush(`${q}:pending`, bytes, bytes);
  const consumer = new ReliableConsumer(redis, blocking, q);
  const [one, two] = await consumer.fetch(2, 0);
  assert.ok(Buffer.isBuffer(one!.raw) && one!.raw.equals(bytes));
  assert.equal(await consumer.ack([one!.raw]), 1);
  assert.equal(await consumer.retryLater(two!.raw, Date.now() + 60_000), true);
  assert.equal(await consumer.inFlight(), 0);
  assert.deepEqual(await redis.zrangeBuffer(`${q}:delayed`, 0, -1), [bytes]);
});

test('blocks on an empty queue until a task arrives, then returns it', async () => {
  const q = freshQueue();
  const consumer = new ReliableConsumer(redis, blocking, q);
  const pending = consumer.fetch(10, 5000);
  setTimeout(() => void new RedisListProducer(redis, q).enqueue([task(7)]), 200);
  const got = await pending;
  assert.equal(got.length, 1);
  assert.equal(JSON.parse(rawText(got[0]!.raw)).payload.i, 7);
});

test('a task moved into its processing list whose reply never came (a client-side timeout) is taken by the next fetch, not stranded', async () => {
  const q = freshQueue();
  const producer = new RedisListProducer(redis, q);
  await producer.enqueue([task(1), task(2)]);
  const consumer = new ReliableConsumer(redis, blocking, q);
  // What BLMOVE did on the server when the client had already given up on its reply (it timed out after the
  // process was frozen): task 1 moved into this consumer's list, and the consumer never saw it.
  await redis.lmove(`${q}:pending`, consumer.processingKey, 'RIGHT', 'LEFT');
  await producer.enqueue([task(3)]);
  const got = await consumer.fetch(10, 0);
  assert.deepEqual(
    got.map(({ raw }) => (JSON.parse(rawText(raw)) as { payload: { i: number } }).payload.i),
    [1, 2, 3],
    'the stranded task first, then the ones taken now',
  );
  assert.equal(consumer.adoptedTasks, 1);
  assert.equal(await consumer.ack(got.map((t) => t.raw)), 3);
  assert.equal(await consumer.inFlight(), 0);
});

test('returns nothing when the queue stays empty for the block time', async () => {
  const consumer = new ReliableConsumer(redis, blocking, freshQueue());
  assert.deepEqual(await consumer.fetch(10, 100), []);
});

test('dead-letters a task with its reason and the raw bytes, even when they are not JSON', async () => {
  const q = freshQueue();
  await redis.lpush(`${q}:pending`, '{not json');
  const consumer = new ReliableConsumer(redis, blocking, q);
  const [fetched] = await consumer.fetch(1, 0);
  const now = new Date().toISOString();
  await consumer.deadLetter(fetched!.raw, {
    reason: 'invalid_envelope',
    message: 'task is not valid JSON',
    task_id: null,
    task_type: null,
    attempts: 1,
    first_failed_at: now,
    last_failed_at: now,
  });
  assert.equal(await consumer.inFlight(), 0);
  const [entry] = await redis.lrange(`${q}:failed`, 0, -1);
  const record = JSON.parse(entry!) as DeadLetterRecord;
  assert.equal(record.raw, '{not json');
  assert.equal(record.reason, 'invalid_envelope');
  assert.equal(record.consumer, consumer.consumerId);
});

test('accepts a task enqueued by hand with redis-cli (a producer that is not our code)', async (t) => {
  const cli = findOnPath('redis-cli');
  if (!cli) return t.skip('redis-cli not installed (Debian package redis-tools)');
  const q = freshQueue();
  const body =
    '{"type":"telemetry.store","priority":"HIGH","payload":{"device_id":"d1","timestamp":1766745060,"temperature":21.5}}';
  execFileSync(cli, ['-p', String(server.port), 'LPUSH', `${q}:pending`, body]);
  const [fetched] = await new ReliableConsumer(redis, blocking, q).fetch(1, 0);
  const envelope = parseTaskEnvelope(rawText(fetched!.raw));
  assert.equal(envelope.priority, 90);
  assert.equal(envelope.type, 'telemetry.store');
});

test('requeueInFlight gives unfinished tasks back so they are taken next, in their order', async () => {
  const q = freshQueue();
  await new RedisListProducer(redis, q).enqueue([task(1), task(2), task(3), task(4)]);
  const a = new ReliableConsumer(redis, blocking, q);
  await a.fetch(2, 0);
  assert.equal(await a.requeueInFlight(), 2);
  const b = new ReliableConsumer(redis, blocking, q);
  const order = (await b.fetch(10, 0)).map(
    ({ raw }) => (JSON.parse(rawText(raw)) as { payload: { i: number } }).payload.i,
  );
  assert.deepEqual(order, [1, 2, 3, 4]);
});

test('an ACL user and password in REDIS_URL (redis://user:pass@host) authenticate; a wrong password is refused', async () => {
  const secured = await startTestRedis(createRedis, {
    extraArgs: ['--user', 'hub', 'on', '>hub-secret-123', '~*', '&*', '+@all'],
  });
  const url = (password: string) => `redis://hub:${password}@127.0.0.1:${secured.server.port}`;
  const good = createRedis(url('hub-secret-123'));
  const bad = createRedis(url('wrong'), { connectTimeoutMs: 1000 });
  bad.on('error', () => {});
  try {
    assert.equal(await good.call('ACL', 'WHOAMI'), 'hub');
    await assert.rejects(bad.ping(), /WRONGPASS|invalid username-password/i);
  } finally {
    good.disconnect();
    bad.disconnect();
    await stopTestRedis(secured);
  }
});
