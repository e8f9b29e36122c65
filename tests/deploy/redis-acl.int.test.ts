/**
 * Redis in the Kubernetes manifests is closed: the ACL file its start script writes (run here for real, from the
 * rendered ConfigMap) loads into a real redis-server with no default user; each role's rules are those of
 * libs/queue/src/acl.ts; the replication, sentinel and probe users can do their jobs and no more; and every client
 * the manifests run connects as its own user with passwords from the Secret the dev overlay provides.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisServer, until } from '@telemetryhub/testkit';
import { createRedis, redisRoleRules, REDIS_ROLES } from '@telemetryhub/queue';
import { OVERLAYS, rendered, workloads } from './support/manifests.js';
import { installRedisScripts, redisScripts } from './support/redis-scripts.js';

/** `NAME_RULES='…'` lines of acl-rules.sh, as rule lists. */
function rulesIn(aclRules: string): Record<string, string[]> {
  return Object.fromEntries(
    [...aclRules.matchAll(/^([A-Z]+)_RULES='([^']*)'$/gm)].map((m) => [m[1]!.toLowerCase(), m[2]!.split(' ')]),
  );
}

const PASSWORDS = {
  HUB_PASSWORD: 'hub-pw-1',
  PROCESSOR_PASSWORD: 'processor-pw-1',
  AUTOSCALER_PASSWORD: 'autoscaler-pw-1',
  REPLICATION_PASSWORD: 'replication-pw-1',
  SENTINEL_PASSWORD: 'sentinel-pw-1',
  PROBE_PASSWORD: 'probe-pw-1',
};

test('the roles’ ACL rules in the manifests are those of libs/queue/src/acl.ts', () => {
  const rules = rulesIn(redisScripts(rendered('dev'))['acl-rules.sh']!);
  for (const role of REDIS_ROLES) assert.deepEqual(rules[role], redisRoleRules(role, 'tasks'), role);
});

test('the ACL file the start script writes loads into redis-server: no default user, each user able to do its job only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'th-k8s-acl-'));
  installRedisScripts(redisScripts(rendered('dev')), dir);
  const aclFile = join(dir, 'users.acl');
  // Mid-rotation for the hub: its previous password is still accepted beside the new one.
  const env = { ...process.env, ...PASSWORDS, HUB_PREVIOUS_PASSWORD: 'hub-pw-0' };
  writeFileSync(aclFile, execFileSync('sh', [join(dir, 'users-acl.sh')], { env }));
  const primary = await RedisServer.start({ extraArgs: ['--aclfile', aclFile] });
  const replica = await RedisServer.start({
    extraArgs: [
      '--aclfile',
      aclFile,
      '--replicaof',
      '127.0.0.1',
      String(primary.port),
      '--masteruser',
      'replication',
      '--masterauth',
      PASSWORDS.REPLICATION_PASSWORD,
    ],
  });
  const url = (user: string, password: string, port = primary.port) => `redis://${user}:${password}@127.0.0.1:${port}`;
  const as = (user: string, password: string, port?: number) =>
    createRedis(url(user, password, port), { commandTimeoutMs: 3000, offlineQueue: true });
  const clients = {
    hub: as('hub', PASSWORDS.HUB_PASSWORD),
    processor: as('processor', PASSWORDS.PROCESSOR_PASSWORD),
    autoscaler: as('autoscaler', PASSWORDS.AUTOSCALER_PASSWORD),
    sentinel: as('sentinel', PASSWORDS.SENTINEL_PASSWORD),
    probe: as('probe', PASSWORDS.PROBE_PASSWORD),
    replicaProbe: as('probe', PASSWORDS.PROBE_PASSWORD, replica.port),
    anonymous: createRedis(`redis://127.0.0.1:${primary.port}`, { commandTimeoutMs: 3000, offlineQueue: true }),
  };
  const refused = async (p: Promise<unknown>, why: RegExp) =>
    assert.match(
      String(
        await p.then(
          () => 'allowed',
          (e: Error) => e.message,
        ),
      ),
      why,
    );
  try {
    await refused(clients.anonymous.ping(), /NOAUTH|NOPERM/);
    assert.equal(await clients.hub.lpush('tasks:pending', '{"type":"telemetry.store"}'), 1);
    await refused(clients.hub.lrange('tasks:pending', 0, -1), /NOPERM/);
    const previous = as('hub', 'hub-pw-0');
    assert.equal(await previous.ping(), 'PONG', 'the previous password works while it is set');
    previous.disconnect();
    const wrong = as('processor', 'hub-pw-0');
    await refused(wrong.ping(), /WRONGPASS|invalid username-password/);
    wrong.disconnect();
    assert.equal((await clients.processor.lrange('tasks:pending', 0, -1)).length, 1);
    await refused(clients.processor.get('other-key'), /NOPERM/);
    assert.equal(await clients.autoscaler.llen('tasks:pending'), 1);
    await refused(clients.autoscaler.lpop('tasks:pending'), /NOPERM/);
    assert.equal(await clients.probe.ping(), 'PONG');
    await refused(clients.probe.llen('tasks:pending'), /NOPERM/);
    // What Sentinel does against a monitored server: no NOPERM for any of it.
    for (const [cmd, ...args] of [
      ['ping'],
      ['info'],
      ['role'],
      ['client', 'setname', 'sentinel-x'],
      ['publish', '__sentinel__:hello', 'hello'],
    ] as const) {
      await clients.sentinel.call(cmd, ...args);
    }
    await refused(clients.sentinel.call('get', 'x'), /NOPERM/);
    // The replica authenticated as `replication` and copies the primary.
    await until('the replica is in sync as the replication user', async () => {
      const info = String(await clients.replicaProbe.call('info', 'replication').catch(() => ''));
      return /master_link_status:up/.test(info) || (await replicaHasCopy());
    });
    async function replicaHasCopy(): Promise<boolean> {
      const r = as('processor', PASSWORDS.PROCESSOR_PASSWORD, replica.port);
      try {
        return (await r.llen('tasks:pending')) === 1;
      } finally {
        r.disconnect();
      }
    }
    assert.ok(await replicaHasCopy(), 'the queued task reached the replica');
  } finally {
    for (const c of Object.values(clients)) c.disconnect();
    await replica.stop();
    await primary.stop();
  }
});

for (const overlay of OVERLAYS) {
  test(`overlays/${overlay}: every Redis client connects as its own user, with passwords from the Secret telemetryhub-redis`, () => {
    const objects = rendered(overlay);
    const wanted: Record<string, string> = { hub: 'hub', 'hub-ingest': 'hub', 'task-processor': 'processor' };
    const keysUsed = new Set<string>();
    for (const w of workloads(objects)) {
      for (const c of [...w.pod.containers]) {
        for (const e of (c.env ?? []) as Array<{
          name: string;
          valueFrom?: { secretKeyRef?: { name: string; key: string } };
        }>) {
          const ref = e.valueFrom?.secretKeyRef as { name: string; key: string; optional?: boolean } | undefined;
          if (ref?.name === 'telemetryhub-redis' && !ref.optional) keysUsed.add(ref.key);
        }
      }
      const name = w.podLabels['app.kubernetes.io/name']!;
      const role = wanted[name];
      if (!role) continue;
      const env = new Map(
        (
          (w.pod.containers[0]!.env ?? []) as Array<{
            name: string;
            value?: string;
            valueFrom?: { secretKeyRef?: { name: string; key: string } };
          }>
        ).map((e) => [e.name, e]),
      );
      // TLS in prod (the redis-tls component: tests/deploy/redis-tls.int.test.ts), plain TCP in dev.
      const scheme = overlay === 'prod' ? 'rediss-sentinel' : 'redis-sentinel';
      assert.equal(env.get('REDIS_URL')?.value, `${scheme}://${role}@redis-sentinel:26379/mymaster`, name);
      assert.deepEqual(
        env.get('REDIS_PASSWORD')?.valueFrom?.secretKeyRef,
        { name: 'telemetryhub-redis', key: role },
        name,
      );
      assert.deepEqual(
        env.get('REDIS_SENTINEL_PASSWORD')?.valueFrom?.secretKeyRef,
        { name: 'telemetryhub-redis', key: 'sentinels' },
        name,
      );
    }
    const auth = objects.find((o) => o.kind === 'TriggerAuthentication');
    if (objects.some((o) => o.kind === 'ScaledObject')) {
      assert.ok(auth, 'KEDA authenticates');
      const refs = (auth.spec as { secretTargetRef: Array<{ parameter: string; name: string; key: string }> })
        .secretTargetRef;
      assert.deepEqual(
        refs.find((r) => r.parameter === 'password'),
        { parameter: 'password', name: 'telemetryhub-redis', key: 'autoscaler' },
      );
      for (const r of refs) if (r.name === 'telemetryhub-redis') keysUsed.add(r.key);
    }
    const config = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'telemetryhub-config');
    assert.equal(
      (config as unknown as { data: Record<string, string> }).data.REDIS_URL,
      undefined,
      'no shared, userless REDIS_URL',
    );
    const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === 'telemetryhub-redis');
    if (overlay === 'dev') {
      assert.ok(secret, 'dev provides the Secret');
      const keys = Object.keys({
        ...((secret as { data?: object }).data ?? {}),
        ...((secret as { stringData?: object }).stringData ?? {}),
      });
      for (const k of keysUsed) assert.ok(keys.includes(k), `the dev Secret has "${k}"`);
    } else {
      assert.equal(secret, undefined, 'prod: the operator creates the Secret (no password in the repository)');
    }
  });
}
