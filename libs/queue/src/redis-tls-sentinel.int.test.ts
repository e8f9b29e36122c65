import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { RedisSentinel, RedisServer, makeTestCertificates, until, type TestCertificates } from '@telemetryhub/testkit';
import { RedisListProducer } from './redis-list/producer.js';
import { queueDepths } from './redis-list/queue-stats.js';
import { runGracefulConsumer } from './conformance/processes.test-support.js';

// A primary, its replica and a sentinel that all speak TLS only (clients, replication, the sentinel's own links),
// signed by a CA of our own. The consumer processes get nothing but the sentinel's `rediss-sentinel://` URL and
// Node's NODE_EXTRA_CA_CERTS.
let certs: TestCertificates;
let primary: RedisServer;
let replica: RedisServer;
let sentinel: RedisSentinel;
let admin: Redis;

before(async () => {
  certs = makeTestCertificates();
  primary = await RedisServer.start({ tls: certs, extraArgs: ['--tls-replication', 'yes'] });
  replica = await RedisServer.start({
    tls: certs,
    extraArgs: ['--tls-replication', 'yes', '--replicaof', '127.0.0.1', String(primary.port)],
  });
  sentinel = await RedisSentinel.start(primary.port, { tls: certs });
  const ca = readFileSync(certs.caFile);
  admin = new Redis({
    sentinels: [{ host: '127.0.0.1', port: sentinel.port }],
    name: sentinel.masterName,
    tls: { ca },
    sentinelTLS: { ca },
    enableTLSForSentinelMode: true,
    maxRetriesPerRequest: null,
  });
  admin.on('error', () => {}); // the primary's death, seen while the sentinel fails over: the test's point
});
after(async () => {
  admin?.disconnect();
  await sentinel?.stop();
  await replica?.stop();
  await primary?.stop();
  certs?.remove();
});

const task = (i: number) =>
  JSON.stringify({ id: `t-${i}`, type: 'telemetry.store', created_at: '2026-01-01T00:00:00Z', payload: { i } });

test('rediss-sentinel://: consumer processes take and ack over TLS before and after the primary is killed', async () => {
  assert.match(sentinel.url, /^rediss-sentinel:\/\//);
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: certs.caFile };
  const queue = 'tls-sentinel';
  await new RedisListProducer(admin, queue).enqueue([0, 1, 2, 3, 4, 5].map(task));
  await until('the replica has every task', async () => (await admin.wait(1, 200)) === 1);

  const first = await runGracefulConsumer({ driver: 'redis-list', url: sentinel.url, queue, batch: 3 }, env);
  assert.deepEqual([first.held, first.code], [['t-0', 't-1', 't-2'], 0], first.stderr);
  await until('the acks reached the replica', async () => (await admin.wait(1, 200)) === 1);

  primary.signal('SIGKILL');
  await until(
    'the sentinel names the replica as primary',
    async () => (await sentinelPrimaryPort()) === replica.port,
    30_000,
    200,
  );
  const second = await runGracefulConsumer({ driver: 'redis-list', url: sentinel.url, queue, batch: 10 }, env);
  assert.deepEqual([second.held, second.code], [['t-3', 't-4', 't-5'], 0], second.stderr);
  const depths = await queueDepths(admin, queue);
  assert.deepEqual([depths.pending, depths.processing, depths.failed], [0, 0, 0]);
});

/** The port of the primary the sentinel names now, asked over TLS. */
async function sentinelPrimaryPort(): Promise<number> {
  const ask = new Redis({ host: '127.0.0.1', port: sentinel.port, tls: { ca: readFileSync(certs.caFile) } });
  try {
    const [, port] = (await ask.call('SENTINEL', 'get-master-addr-by-name', sentinel.masterName)) as [string, string];
    return Number(port);
  } finally {
    ask.disconnect();
  }
}
