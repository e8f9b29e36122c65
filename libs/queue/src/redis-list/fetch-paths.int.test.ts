/**
 * The batched fetch has two ways to move tasks (see FETCH_BATCH): into an empty processing list by
 * SORT … STORE, the tasks then read back with LRANGE (the fast path), or by RPOP + LPUSH with the tasks returned
 * by the script. Each case here drives one of the paths, or the seams between them, and checks what a consumer
 * must always get: the oldest tasks, in the order taken, each held exactly once, with its redelivery count.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RedisClient } from '../redis-connection.js';
import { createRedis } from '../redis-connection.js';
import { startTestRedis, stopTestRedis, type TestRedis } from '@telemetryhub/testkit';
import { ReliableConsumer, sha1 } from './consumer.js';
import { type FetchedTask, rawText } from '../task.js';

let env: TestRedis<RedisClient> | undefined;
let url: string;
let redis: RedisClient;
let blocking: RedisClient;
let n = 0;
const freshQueue = () => `fetch${++n}`;
const names = (tasks: FetchedTask[]) => tasks.map((t) => rawText(t.raw));
/** Enqueues raw tasks as a plain producer does (LPUSH, the first given is the first taken). */
const push = (key: string, ...raws: string[]) => redis.lpush(key, ...raws);
/** SORT calls the server has run since `CONFIG RESETSTAT`: the fast path's moves. */
const sortCalls = async () => Number(/cmdstat_sort:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
const range = (prefix: string, from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_u, i) => `${prefix}${from + i}`);

before(async () => {
  env = await startTestRedis(createRedis);
  ({ redis, blocking } = env);
  url = env.server.url;
});
after(() => stopTestRedis(env));

test('into an empty processing list: the oldest tasks of both lanes, urgent first, each held once', async () => {
  const q = freshQueue();
  await push(`${q}:pending:high`, ...range('u', 1, 3));
  await push(`${q}:pending`, ...range('n', 1, 10));
  const consumer = new ReliableConsumer(redis, blocking, q);
  await redis.call('CONFIG', 'RESETSTAT');
  const got = await consumer.fetchNow(5);
  assert.equal(await sortCalls(), 1, 'the first lane moved by SORT … STORE (the fast path), the rest by RPOP');
  assert.deepEqual(names(got), ['u1', 'u2', 'u3', 'n1', 'n2']);
  assert.deepEqual(
    got.map((t) => t.redeliveries),
    [0, 0, 0, 0, 0],
  );
  assert.deepEqual((await redis.lrange(consumer.processingKey, 0, -1)).sort(), names(got).sort());
  assert.deepEqual(await redis.lrange(`${q}:pending`, 0, -1), range('n', 3, 10).reverse());
  assert.equal(await redis.exists(`${q}:pending:high`), 0);
  assert.equal(await consumer.ack(names(got)), 5);
  assert.deepEqual(names(await consumer.fetchNow(100)), range('n', 3, 10));
});

test('while tasks are held: the next ones, in order, held beside the first batch', async () => {
  const q = freshQueue();
  await push(`${q}:pending`, ...range('n', 1, 9));
  const consumer = new ReliableConsumer(redis, blocking, q);
  const first = await consumer.fetchNow(3);
  await redis.call('CONFIG', 'RESETSTAT');
  const second = await consumer.fetchNow(3);
  assert.equal(await sortCalls(), 0, 'with tasks held, SORT … STORE would overwrite them: RPOP + LPUSH');
  assert.deepEqual([...names(first), ...names(second)], range('n', 1, 6));
  assert.equal(await consumer.inFlight(), 6);
  assert.equal(await consumer.ack(names(first)), 3);
  assert.equal(await consumer.ack(names(second)), 3);
  assert.equal(await consumer.inFlight(), 0);
});

test('a consumer object that finds tasks in its list it never handed out takes them first, then the ones it took', async () => {
  const q = freshQueue();
  await push(`${q}:pending`, ...range('n', 1, 6));
  const earlier = new ReliableConsumer(redis, blocking, q);
  await earlier.fetchNow(3);
  // Same consumer id, fresh object: it expects an empty list, which holds n1..n3 (as after a lost reply). The list
  // is this consumer's alone and its lease is alive, so nobody else would ever take them.
  const later = new ReliableConsumer(redis, blocking, q, { consumerId: earlier.consumerId });
  assert.deepEqual(names(await later.fetchNow(10)), range('n', 1, 6));
  assert.equal(later.adoptedTasks, 3);
  assert.equal(await later.inFlight(), 6);
});

test('a script the server does not have cached (flushed, as by a restart) still returns the tasks taken', async () => {
  const q = freshQueue();
  await push(`${q}:pending`, ...range('n', 1, 4));
  const consumer = new ReliableConsumer(redis, blocking, q);
  await redis.script('FLUSH');
  assert.deepEqual(names(await consumer.fetchNow(3)), range('n', 1, 3));
  await redis.script('FLUSH');
  assert.deepEqual(names(await consumer.fetchNow(3)), ['n4']);
});

test('two fetches at once on one consumer take disjoint runs, each in order', async () => {
  const q = freshQueue();
  await push(`${q}:pending`, ...range('n', 1, 10));
  const consumer = new ReliableConsumer(redis, blocking, q);
  const [a, b] = await Promise.all([consumer.fetchNow(5), consumer.fetchNow(5)]);
  assert.deepEqual([...names(a!), ...names(b!)].sort(), range('n', 1, 10).sort());
  for (const run of [a!, b!]) {
    const i = names(run).map((s) => Number(s.slice(1)));
    assert.deepEqual(
      i,
      [...i].sort((x, y) => x - y),
    );
  }
  assert.equal(await consumer.inFlight(), 10);
});

test('redelivery counts line up with the tasks, in both lanes, whether or not tasks were held', async () => {
  const q = freshQueue();
  await push(`${q}:pending:high`, 'u1');
  await push(`${q}:pending`, ...range('n', 1, 4));
  await redis.hincrby(`${q}:attempts`, sha1('u1'), 1);
  await redis.hincrby(`${q}:attempts`, sha1('n1'), 2);
  await redis.hincrby(`${q}:attempts`, sha1('n4'), 3);
  const consumer = new ReliableConsumer(redis, blocking, q);
  const first = await consumer.fetchNow(3);
  assert.deepEqual(
    first.map((t) => [rawText(t.raw), t.redeliveries]),
    [
      ['u1', 1],
      ['n1', 2],
      ['n2', 0],
    ],
  );
  const second = await consumer.fetchNow(3);
  assert.deepEqual(
    second.map((t) => [rawText(t.raw), t.redeliveries]),
    [
      ['n3', 0],
      ['n4', 3],
    ],
  );
});

test('an ACL user that may not run SORT (it is in @dangerous) still fetches, by the slower path', async () => {
  const q = freshQueue();
  await redis.call('ACL', 'SETUSER', 'nosort', 'on', '>pw', '~*', '&*', '+@all', '-sort');
  const limited = createRedis(url.replace('redis://', 'redis://nosort:pw@'));
  try {
    await assert.rejects(limited.sort('any-list'), /NOPERM/);
    await push(`${q}:pending`, ...range('n', 1, 5));
    const consumer = new ReliableConsumer(limited, blocking, q);
    assert.deepEqual(names(await consumer.fetchNow(3)), range('n', 1, 3));
    assert.deepEqual(await redis.lrange(`${q}:pending`, 0, -1), ['n5', 'n4']);
    assert.equal(await consumer.inFlight(), 3);
  } finally {
    limited.disconnect();
  }
});
