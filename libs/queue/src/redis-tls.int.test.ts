import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { RedisServer, makeTestCertificates, type TestCertificates } from '@telemetryhub/testkit';
import { QUEUE_DRIVERS } from './driver.js';
import { createQueueProducer, createQueueStats } from './driver-factory.js';
import { runCli } from '@telemetryhub/testkit';
import { runGracefulConsumer } from './conformance/processes.test-support.js';

// A Redis that speaks TLS only, signed by a CA of our own, with the default user off and an ACL user `app`.
// The processes under test get nothing but a `rediss://user:pass@…` URL and Node's NODE_EXTRA_CA_CERTS.
let certs: TestCertificates;
let server: RedisServer;
let admin: Redis;
const url = (pass = 's3cret', user = 'app') => `rediss://${user}:${pass}@127.0.0.1:${server.port}`;

before(async () => {
  certs = makeTestCertificates();
  server = await RedisServer.start({
    tls: certs,
    extraArgs: [
      ...['--user', 'default', 'off'],
      ...['--user', 'app', 'on', '>s3cret', '~*', '&*', '+@all'],
      // The narrow grant the README documents for the redis-list driver: its own keys, no channels.
      ...['--user', 'lister', 'on', '>s3cret', '~tls-redis-list:*', 'resetchannels'],
      ...['+@list', '+@sortedset', '+@hash', '+@scripting', '+@connection', '+info', '+del'],
    ],
  });
  admin = new Redis(url(), { tls: { ca: readFileSync(certs.caFile) }, maxRetriesPerRequest: null });
});
after(async () => {
  admin?.disconnect();
  await server?.stop();
  certs?.remove();
});

const trusting = () => ({ ...process.env, NODE_EXTRA_CA_CERTS: certs.caFile });
const task = (i: number) =>
  JSON.stringify({ id: `t-${i}`, type: 'telemetry.store', created_at: '2026-01-01T00:00:00Z', payload: { i } });

for (const driver of QUEUE_DRIVERS) {
  test(`${driver}: a consumer process given a rediss:// URL with an ACL user (narrow for redis-list) takes, acks and leaves nothing`, async () => {
    const queue = `tls-${driver}`;
    const producer = createQueueProducer(driver, admin, queue);
    await producer.enqueue([1, 2, 3].map(task));
    const childUrl = driver === 'redis-list' ? url('s3cret', 'lister') : url();
    const run = await runGracefulConsumer({ driver, url: childUrl, queue, batch: 10 }, trusting());
    assert.deepEqual(run.held, ['t-1', 't-2', 't-3']);
    assert.equal(run.code, 0, `graceful exit, every task acked over TLS: ${run.stderr}`);
    const stats = createQueueStats(driver, admin, queue);
    const depths = await stats.depths();
    await stats.close();
    await producer.close?.();
    assert.deepEqual([depths.pending, depths.processing, depths.failed], [0, 0, 0]);
  });
}

const cli = (env: NodeJS.ProcessEnv, redisUrl: string) =>
  runCli(['queue', 'stats', '--json', '--queue', 'tls-redis-list', '--redis-url', redisUrl], env);

test('the CLI reaches a TLS Redis with the CA trusted, and says why it cannot without it or with a wrong password', async () => {
  const ok = await cli(trusting(), url());
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((JSON.parse(ok.stdout) as { pending: number }).pending, 0);

  const untrusted = await cli(process.env, url());
  assert.notEqual(untrusted.code, 0);
  assert.match(untrusted.stderr, /cannot reach Redis at rediss:\/\/app:\*\*\*@127\.0\.0\.1.*certificate/i);

  const wrongPassword = await cli(trusting(), url('nope'));
  assert.notEqual(wrongPassword.code, 0);
  assert.match(wrongPassword.stderr, /WRONGPASS/);
  assert.doesNotMatch(wrongPassword.stderr, /nope/, 'the password is not printed');
});
