import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RedisServer } from '@telemetryhub/testkit';
import { Queue } from 'bullmq';
import { hashApiKey } from '@telemetryhub/service-kit';
import {
  ReliableConsumer,
  ShardedConsumer,
  ShardedProducer,
  RedisListProducer,
  createRedis,
  type RedisClient,
  rawText,
} from '@telemetryhub/queue';

const BIN = fileURLToPath(new URL('../bin/telemetryhub.mjs', import.meta.url));
let server: RedisServer;
let redis: RedisClient;

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args, '--redis-url', server.url, '--queue', 'cliq'], (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

before(async () => {
  server = await RedisServer.start();
  redis = createRedis(server.url);
  const blocking = createRedis(server.url, { blocking: true });
  await new RedisListProducer(redis, 'cliq').enqueue([
    JSON.stringify({ id: 'a', type: 'telemetry.store', payload: {} }),
    JSON.stringify({ id: 'b', type: 'telemetry.nope', payload: {} }),
  ]);
  const consumer = new ReliableConsumer(redis, blocking, 'cliq');
  const now = new Date().toISOString();
  for (const [i, t] of (await consumer.fetch(2, 0)).entries()) {
    await consumer.deadLetter(t.raw, {
      reason: i === 0 ? 'invalid_payload' : 'unknown_type',
      message: i === 0 ? 'payload: must hold at least one event' : 'no handler',
      task_id: i === 0 ? 'a' : 'b',
      task_type: i === 0 ? 'telemetry.store' : 'telemetry.nope',
      attempts: 1,
      first_failed_at: now,
      last_failed_at: now,
    });
  }
  blocking.disconnect();
});
after(async () => {
  redis.disconnect();
  await server.stop();
});

test('lists dead letters as JSON, newest first, with a filter', async () => {
  const all = await cli('dlq', 'list', '--json');
  assert.equal(all.code, 0, all.stderr);
  assert.deepEqual(
    (JSON.parse(all.stdout) as Array<{ task_id: string }>).map((e) => e.task_id),
    ['b', 'a'],
  );
  const some = await cli('dlq', 'list', '--json', '--reason', 'unknown_type');
  assert.deepEqual(
    (JSON.parse(some.stdout) as Array<{ task_id: string }>).map((e) => e.task_id),
    ['b'],
  );
});

test('shows one dead letter with its raw task', async () => {
  const r = await cli('dlq', 'show', '1');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    (JSON.parse(r.stdout) as { raw: string }).raw,
    JSON.stringify({ id: 'a', type: 'telemetry.store', payload: {} }),
  );
});

test('replays by filter onto pending, and refuses to purge without --yes', async () => {
  const replay = await cli('dlq', 'replay', '--type', 'telemetry.nope');
  assert.equal(replay.code, 0, replay.stderr);
  assert.match(replay.stdout, /replayed 1 task/);
  assert.deepEqual(await redis.lrange('cliq:pending', 0, -1), [
    JSON.stringify({ id: 'b', type: 'telemetry.nope', payload: {} }),
  ]);
  const refused = await cli('dlq', 'purge', '--all');
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /--yes/);
  const purged = await cli('dlq', 'purge', '--all', '--yes');
  assert.match(purged.stdout, /purged 1 dead letter/);
  assert.equal(await redis.llen('cliq:failed'), 0);
});

test('with --driver bullmq, replay adds the task back as a BullMQ job; an unknown driver is a usage error', async () => {
  const raw = JSON.stringify({ id: 'c', type: 'telemetry.store', payload: {} });
  const now = new Date().toISOString();
  await redis.lpush(
    'cliq:failed',
    JSON.stringify({
      reason: 'poison',
      message: 'm',
      raw,
      task_id: 'c',
      task_type: 'telemetry.store',
      attempts: 1,
      first_failed_at: now,
      last_failed_at: now,
      consumer: 'x',
    }),
  );
  const replay = await cli('dlq', 'replay', '--task-id', 'c', '--driver', 'bullmq');
  assert.equal(replay.code, 0, replay.stderr);
  assert.match(replay.stdout, /replayed 1 task\(s\) onto BullMQ queue cliq/);
  assert.equal(await redis.llen('cliq:failed'), 0);
  const connection = createRedis(server.url, { bullmq: true });
  const queue = new Queue('cliq', { connection });
  try {
    const jobs = await queue.getJobs(['prioritized', 'wait']);
    assert.deepEqual(
      jobs.map((j) => (j.data as { raw: string }).raw),
      [raw],
    );
  } finally {
    await queue.close();
    connection.disconnect();
  }
  const unknown = await cli('dlq', 'count', '--driver', 'kafka');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown queue driver "kafka"/);
});

test('prints queue stats, usage errors with exit 2, and help', async () => {
  const stats = await cli('queue', 'stats', '--json');
  assert.equal((JSON.parse(stats.stdout) as { pending: number }).pending, 1);
  assert.equal((await cli('dlq', 'explode')).code, 2);
  const help = await cli('--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /dlq replay/);
  const version = await cli('--version');
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^telemetryhub cli \d+\.\d+\.\d+\n$/);
});

test('hash-key prints the SHA-256 the hub expects, without needing Redis', async () => {
  const r = await new Promise<{ code: number; stdout: string }>((resolve) =>
    execFile(process.execPath, [BIN, 'hash-key', 'a-long-enough-secret-key'], (err, stdout) =>
      resolve({ code: err ? 1 : 0, stdout }),
    ),
  );
  assert.equal(r.code, 0);
  assert.equal(r.stdout.split('\n')[0], hashApiKey('a-long-enough-secret-key'));
});

test('with --shards, stats and dead letters of every shard read as one queue', async () => {
  const producer = new ShardedProducer(redis, 'cliq', 3);
  const devices = ['d-a', 'd-b', 'd-c', 'd-d', 'd-e', 'd-f'];
  await producer.enqueue(
    devices.map((d) => JSON.stringify({ id: `t-${d}`, type: 'telemetry.store', payload: { device_id: d } })),
  );
  const blocking = createRedis(server.url, { blocking: true });
  const consumer = new ShardedConsumer(redis, blocking, producer.shardQueues);
  const got = await consumer.fetch(10, 0);
  assert.equal(got.length, devices.length);
  const now = new Date().toISOString();
  for (const t of got.slice(0, 4)) {
    const id = (JSON.parse(rawText(t.raw)) as { id: string }).id;
    await consumer.deadLetter(t.raw, {
      reason: 'poison',
      message: 'boom',
      task_id: id,
      task_type: 'telemetry.store',
      attempts: 1,
      first_failed_at: now,
      last_failed_at: now,
    });
  }
  await consumer.requeueInFlight();
  blocking.disconnect();

  const stats = await cli('queue', 'stats', '--json', '--shards', '3');
  assert.equal(stats.code, 0, stats.stderr);
  const d = JSON.parse(stats.stdout) as { shards: number; pending: number; failed: number };
  assert.deepEqual([d.shards, d.pending, d.failed], [3, 2, 4]);
  const listed = await cli('dlq', 'list', '--json', '--shards', '3');
  const entries = JSON.parse(listed.stdout) as Array<{ index: number; task_id: string }>;
  assert.deepEqual(
    entries.map((e) => e.index),
    [0, 1, 2, 3],
  );
  const last = await cli('dlq', 'show', '3', '--json', '--shards', '3');
  assert.equal((JSON.parse(last.stdout) as { task_id: string }).task_id, entries[3]!.task_id);
  const replayed = await cli('dlq', 'replay', '--all', '--shards', '3');
  assert.match(replayed.stdout, /replayed 4 task\(s\) onto the pending list of the shard each failed in/);
  assert.equal(await producer.pendingDepth(), 6);

  const bad = await cli('queue', 'stats', '--shards', '0');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--shards must be an integer from 1 to 1024/);
  assert.equal((await cli('dlq', 'count', '--shards', '2', '--driver', 'bullmq')).code, 2);
});
