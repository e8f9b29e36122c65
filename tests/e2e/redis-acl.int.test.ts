import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PostgresServer, RedisServer, freePort, type ServerProcess } from '@telemetryhub/testkit';
import { createRedis, queueKeys, redisRoleRules, type RedisRole } from '@telemetryhub/queue';
import { startAppProcess, waitReady } from '../../scripts/local-pipeline.js';
import { postOriginalAndReadLatest } from './support/ingest-through.js';
import { eventually } from './support/eventually.js';

const PASSWORD: Record<RedisRole, string> = { hub: 'hub-pw', processor: 'processor-pw', autoscaler: 'keda-pw' };

// Redis with the default user off and one ACL user per role, made from redisRoleRules (what a deployment's ACL
// file holds): the real hub and processor, each given only its own user, carry a reading from HTTP to the API;
// then each user is refused what its role does not need.
test('ACL users per role: the hub pushes only, the autoscaler reads lengths only, and the pipeline still works', async () => {
  const users = (Object.keys(PASSWORD) as RedisRole[]).flatMap((role) => [
    '--user',
    role,
    'on',
    `>${PASSWORD[role]}`,
    ...redisRoleRules(role, 'tasks'),
  ]);
  const redis = await RedisServer.start({ extraArgs: ['--user', 'default', 'off', ...users] });
  const postgres = await PostgresServer.start();
  const url = (role: RedisRole) => `redis://${role}:${PASSWORD[role]}@127.0.0.1:${redis.port}`;
  const procs: ServerProcess[] = [];
  const clients = (Object.keys(PASSWORD) as RedisRole[]).map((role) => [role, createRedis(url(role))] as const);
  const as = Object.fromEntries(clients) as Record<RedisRole, ReturnType<typeof createRedis>>;
  try {
    const [processorPort, hubPort] = [await freePort(), await freePort()];
    const base = { ...process.env, LOG_LEVEL: 'warn', QUEUE_NAME: 'tasks', RAW_RETENTION_DAYS: '3650' };
    procs.push(
      startAppProcess('task-processor', {
        ...base,
        REDIS_URL: url('processor'),
        DATABASE_URL: postgres.url,
        PROCESSOR_PORT: String(processorPort),
      }),
    );
    // No spool: a push the hub's user were refused would fail the request, not wait on disk.
    procs.push(
      startAppProcess('hub', {
        ...base,
        REDIS_URL: url('hub'),
        HUB_PORT: String(hubPort),
        SPOOL_DIR: 'off',
        SIM_DEVICES: '2',
        SIM_RATE_HZ: '5',
        QUEUE_MAX_DEPTH: '100000', // the bounded-enqueue script: LLEN and LPUSH inside Lua, as the hub's user
      }),
    );
    const processorUrl = `http://127.0.0.1:${processorPort}`;
    const hubUrl = `http://127.0.0.1:${hubPort}`;
    await waitReady(processorUrl, procs[0]!, 'task-processor', 60_000);
    await waitReady(hubUrl, procs[1]!, 'hub', 60_000);
    const latest = await postOriginalAndReadLatest(hubUrl, processorUrl);
    assert.equal(latest.value, 22.7);

    const pending = queueKeys('tasks').pending;
    const refused = async (p: Promise<unknown>) =>
      assert.match(String(await p.catch((e: Error) => e.message)), /NOPERM/);
    // The hub's user: push, nothing else.
    assert.equal(typeof (await as.hub.llen(pending)), 'number');
    await refused(as.hub.lrange(pending, 0, -1));
    await refused(as.hub.rpop(pending));
    await refused(as.hub.del(pending));
    await refused(as.hub.hgetall('telemetry:latest:sensor-42'));
    // The autoscaler's user: lengths, read-only.
    assert.equal(typeof (await as.autoscaler.llen(pending)), 'number');
    await refused(as.autoscaler.lpush(pending, '{}'));
    await refused(as.autoscaler.llen('tasks:processing:someone'));
    // The processor's user: its queue and the latest values, not other keys.
    // (The fold writes the cache, a fold interval after the reading was stored.)
    await eventually(async () =>
      Object.keys(await as.processor.hgetall('telemetry:latest:sensor-42')).includes('temperature') ? true : undefined,
    );
    await refused(as.processor.get('unrelated'));
    await refused(as.processor.config('GET', 'maxmemory') as Promise<unknown>);
  } finally {
    for (const [, c] of clients) c.disconnect();
    for (const p of procs) await p.stop('SIGTERM', 30_000);
    await redis.stop();
    await postgres.stop();
  }
});
