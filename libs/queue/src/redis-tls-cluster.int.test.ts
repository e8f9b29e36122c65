import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Cluster } from 'ioredis';
import { RedisCluster, makeTestCertificates, type TestCertificates } from '@telemetryhub/testkit';
import { ShardedProducer } from './sharding/sharded-producer.js';
import { shardedQueueDepths } from './sharding/sharded-queue-stats.js';
import { runCli } from '@telemetryhub/testkit';
import { runGracefulConsumer } from './conformance/processes.test-support.js';

// A Redis Cluster that speaks TLS only (clients, cluster bus and replication), signed by a CA of our own, with an
// ACL user `app` on every node. The processes under test get nothing but a `rediss-cluster://user:pass@…` URL and
// Node's NODE_EXTRA_CA_CERTS. The queue is sharded over three queues, so its shards sit on different primaries and
// the consumer speaks TLS to more than one node.
let certs: TestCertificates;
let cluster: RedisCluster;
let admin: Cluster;
const SHARDS = 3;
const QUEUE = 'tlsq';
const url = (pass = 's3cret') => cluster.url.replace('rediss-cluster://', `rediss-cluster://app:${pass}@`);

before(async () => {
  certs = makeTestCertificates();
  cluster = await RedisCluster.start({
    masters: 3,
    replicasPerMaster: 0,
    tls: certs,
    extraArgs: ['--user', 'app', 'on', '>s3cret', '~*', '&*', '+@all'],
  });
  admin = new Cluster(
    cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    { redisOptions: { tls: { ca: readFileSync(certs.caFile) }, username: 'app', password: 's3cret' } },
  );
});
after(async () => {
  admin?.disconnect();
  await cluster?.stop();
  certs?.remove();
});

const trusting = () => ({ ...process.env, NODE_EXTRA_CA_CERTS: certs.caFile });
// Tasks of three devices, so the sharded producer routes them to different shards.
const task = (i: number) =>
  JSON.stringify({
    id: `t-${i}`,
    type: 'telemetry.store',
    created_at: '2026-01-01T00:00:00Z',
    payload: {
      readings: [{ device_id: `dev-${i % 3}`, metric: 'temperature', value: i, event_time: '2026-01-01T00:00:00Z' }],
    },
  });

test('the shards of a queue land on different primaries of the TLS cluster', async () => {
  const producer = new ShardedProducer(admin, QUEUE, SHARDS);
  const primaries = await Promise.all(producer.shardQueues.map((q) => cluster.primaryFor(`${q}:pending`)));
  assert.ok(
    new Set(primaries.map((p) => p.port)).size > 1,
    'the shards share one primary: the test would prove little',
  );
});

test('a consumer process given a rediss-cluster:// URL with an ACL user takes and acks a sharded queue over TLS', async () => {
  const producer = new ShardedProducer(admin, QUEUE, SHARDS);
  await producer.enqueue([0, 1, 2, 3, 4, 5].map(task));
  const run = await runGracefulConsumer(
    { driver: 'redis-list', url: url(), queue: QUEUE, batch: 10, shards: SHARDS },
    trusting(),
    async (held) => {
      assert.ok(held.length > 0, 'the consumer took something');
      const during = await shardedQueueDepths(admin, producer.shardQueues);
      assert.equal(during.pending + during.processing, 6);
      assert.equal(during.processing, held.length);
    },
  );
  assert.equal(run.code, 0, `graceful exit, every task held acked over TLS: ${run.stderr}`);
  const depths = await shardedQueueDepths(admin, producer.shardQueues);
  assert.deepEqual([depths.processing, depths.failed], [0, 0]);
  // What it did not take is still queued, each task once.
  const left = await Promise.all(producer.shardQueues.map((q) => admin.lrange(`${q}:pending`, 0, -1)));
  const ids = left.flat().map((raw) => (JSON.parse(raw) as { id: string }).id);
  assert.deepEqual([...ids, ...run.held].sort(), [0, 1, 2, 3, 4, 5].map((i) => `t-${i}`).sort());
});

const cli = (env: NodeJS.ProcessEnv, redisUrl: string) =>
  runCli(['queue', 'stats', '--json', '--queue', QUEUE, '--shards', String(SHARDS), '--redis-url', redisUrl], env);

test('the CLI reads a sharded queue on the TLS cluster, and names the cause when it cannot (untrusted CA, wrong password)', async () => {
  const expected = await shardedQueueDepths(admin, new ShardedProducer(admin, QUEUE, SHARDS).shardQueues);
  const ok = await cli(trusting(), url());
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((JSON.parse(ok.stdout) as { pending: number }).pending, expected.pending);

  const untrusted = await cli(process.env, url());
  assert.notEqual(untrusted.code, 0);
  assert.match(
    untrusted.stderr,
    /cannot reach Redis at rediss-cluster:\/\/app:\*\*\*@.*certificate/i,
    untrusted.stderr,
  );

  const wrongPassword = await cli(trusting(), url('nope'));
  assert.notEqual(wrongPassword.code, 0);
  assert.match(wrongPassword.stderr, /WRONGPASS/, wrongPassword.stderr);
  assert.doesNotMatch(wrongPassword.stderr, /nope/, 'the password is not printed');
});
