/**
 * TLS between every client and Redis in the prod overlay (k8s/components/redis-tls): the certificate covers every
 * name a client dials, Redis and its sentinel mount it, the apps dial rediss-sentinel:// trusting the CA, and KEDA
 * verifies against the same CA. Then the rendered start and probe scripts run for real with a throwaway
 * certificate: redis-server and its sentinel listen in TLS only, the sentinel watches the server over TLS, the
 * probes pass, and the CLI — an app process given only the URL, the passwords and NODE_EXTRA_CA_CERTS — reads the
 * queue through the sentinel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Redis } from 'ioredis';
import { ServerProcess, ensureRedisServer, freePort, makeTestCertificates, runCli, until } from '@telemetryhub/testkit';
import { rendered, workloads, type Container, type K8sObject, type Workload } from './support/manifests.js';
import { installRedisScripts, redisScripts } from './support/redis-scripts.js';

interface Env {
  name: string;
  value?: string;
}
interface Volume {
  name: string;
  secret?: { secretName: string; items?: Array<{ key: string; path: string }> };
}
interface Mount {
  name: string;
  mountPath: string;
}
interface CertificateSpec {
  secretName: string;
  isCA?: boolean;
  dnsNames?: string[];
  issuerRef: { name: string; kind: string };
}

const named = (objects: K8sObject[], kind: string, name: string) => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name}`);
  return o;
};
const workload = (objects: K8sObject[], name: string): Workload => {
  const w = workloads(objects).find((x) => x.object.metadata.name === name);
  assert.ok(w, name);
  return w;
};
const envOf = (c: Container) => new Map(((c.env ?? []) as Env[]).map((e) => [e.name, e.value]));
/** Where a container sees the Secret `secretName` (its mount path), or undefined. */
function secretMount(w: Workload, c: Container, secretName: string): Mount | undefined {
  const volumes = (w.pod.volumes ?? []) as Volume[];
  return ((c.volumeMounts ?? []) as Mount[]).find(
    (m) => volumes.find((v) => v.name === m.name)?.secret?.secretName === secretName,
  );
}
/** A certificate name covers a host: equal, or a `*.` wildcard for exactly one leftmost label. */
const covers = (names: readonly string[], host: string) =>
  names.some((n) => n === host || (n.startsWith('*.') && host.slice(host.indexOf('.') + 1) === n.slice(2)));

test('prod: Redis serves a cert-manager certificate for every name its clients dial; the apps and KEDA trust its CA', () => {
  const objects = rendered('prod');
  const cert = named(objects, 'Certificate', 'redis-tls').spec as CertificateSpec;
  // Issued by the namespace's own CA: an Issuer of kind `ca` over a CA certificate cert-manager made.
  const issuer = named(objects, cert.issuerRef.kind, cert.issuerRef.name).spec as { ca?: { secretName: string } };
  assert.ok(issuer.ca, 'a CA issuer');
  const ca = objects.find(
    (o) => o.kind === 'Certificate' && (o.spec as CertificateSpec).secretName === issuer.ca!.secretName,
  );
  assert.equal((ca?.spec as CertificateSpec | undefined)?.isCA, true, 'the CA certificate');

  // The names: the sentinels' Service the apps and the start scripts dial, and each pod as the sentinels
  // announce it (the start script's SELF, in the namespace the pods run in).
  const names = cert.dnsNames ?? [];
  const redis = workload(objects, 'redis');
  const common = redisScripts(objects)['common.sh']!;
  const self = /SELF="\$\(hostname\)\.([^"]+)"/.exec(common)?.[1];
  assert.ok(self, 'common.sh names the pod');
  const announced = self.replaceAll('${POD_NAMESPACE}', redis.object.metadata.namespace!);
  for (const pod of ['redis-0', 'redis-1', 'redis-2']) assert.ok(covers(names, `${pod}.${announced}`), pod);
  assert.match(common, /redis-cli \$CLI_TLS -h redis-sentinel /);
  assert.ok(covers(names, 'redis-sentinel'), 'the sentinels’ Service');

  // Redis reads its certificate at start: a renewal of its Secret restarts it (with Reloader in the cluster).
  const annotations = (redis.object.metadata.annotations ?? {}) as Record<string, string>;
  assert.equal(annotations['secret.reloader.stakater.com/reload'], cert.secretName);
  // Redis and its sentinel: the certificate's Secret mounted where REDIS_TLS_DIR says.
  for (const c of redis.pod.containers) {
    const mount = secretMount(redis, c, cert.secretName);
    assert.ok(mount, `${c.name} mounts ${cert.secretName}`);
    assert.equal(envOf(c).get('REDIS_TLS_DIR'), mount.mountPath, c.name);
  }

  // The apps: TLS to the sentinels and the servers, trusting the CA's certificate (and nothing else new).
  for (const name of ['hub', 'hub-ingest', 'task-processor']) {
    const w = workload(objects, name);
    const c = w.pod.containers[0]!;
    const env = envOf(c);
    const url = env.get('REDIS_URL') ?? '';
    assert.match(url, /^rediss-sentinel:\/\//, name);
    assert.ok(covers(names, new URL(url.replace(/^rediss-sentinel:/, 'http:')).hostname), `${name}: its host`);
    const mount = secretMount(w, c, cert.secretName);
    assert.ok(mount, `${name} mounts the CA`);
    const volume = (w.pod.volumes as Volume[]).find((v) => v.name === mount.name)!;
    assert.deepEqual(volume.secret?.items, [{ key: 'ca.crt', path: 'ca.crt' }], `${name}: the CA only, not the key`);
    assert.equal(env.get('NODE_EXTRA_CA_CERTS'), `${mount.mountPath}/ca.crt`, name);
  }

  // KEDA: `tls: enable` and the CA, both from Secrets (the only way it takes them).
  const auth = named(objects, 'TriggerAuthentication', 'telemetryhub-redis').spec as {
    secretTargetRef: Array<{ parameter: string; name: string; key: string }>;
  };
  const ref = (p: string) => auth.secretTargetRef.find((r) => r.parameter === p);
  assert.deepEqual(ref('ca'), { parameter: 'ca', name: cert.secretName, key: 'ca.crt' });
  const flag = named(objects, 'Secret', ref('tls')!.name) as unknown as { data?: Record<string, string> };
  assert.equal(Buffer.from(flag.data?.[ref('tls')!.key] ?? '', 'base64').toString(), 'enable');
});

test('dev: Redis in plain TCP, with no cert-manager needed', () => {
  const objects = rendered('dev');
  assert.equal(objects.filter((o) => o.apiVersion.startsWith('cert-manager.io/')).length, 0);
  for (const c of workload(objects, 'redis').pod.containers) assert.equal(envOf(c).get('REDIS_TLS_DIR'), undefined);
});

const PASSWORDS = {
  HUB_PASSWORD: 'hub-pw',
  PROCESSOR_PASSWORD: 'processor-pw',
  AUTOSCALER_PASSWORD: 'autoscaler-pw',
  REPLICATION_PASSWORD: 'replication-pw',
  SENTINEL_PASSWORD: 'sentinel-pw',
  PROBE_PASSWORD: 'probe-pw',
  SENTINELS_PASSWORD: 'sentinels-pw',
};

const sh = (script: string, args: string[], env: NodeJS.ProcessEnv) =>
  new Promise<number>((resolve) =>
    execFile('sh', [script, ...args], { env, timeout: 10_000 }, (err) =>
      resolve(err ? Number((err as { code?: number }).code ?? 1) : 0),
    ),
  );

test('the rendered scripts with a certificate: redis-server and sentinel in TLS only, probes pass, an app reads the queue', async () => {
  const root = mkdtempSync(join(tmpdir(), 'th-k8s-tls-'));
  const certs = makeTestCertificates();
  const tls = join(root, 'tls');
  mkdirSync(tls);
  copyFileSync(certs.certFile, join(tls, 'tls.crt'));
  copyFileSync(certs.keyFile, join(tls, 'tls.key'));
  copyFileSync(certs.caFile, join(tls, 'ca.crt'));
  // The pod's hostname, and redis-server and redis-cli found as in the image.
  const bin = join(root, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'hostname'), '#!/bin/sh\necho redis-0\n', { mode: 0o755 });
  const env = {
    ...process.env,
    ...PASSWORDS,
    PATH: `${bin}:${dirname(ensureRedisServer())}:${process.env.PATH ?? ''}`,
    POD_NAMESPACE: 'telemetryhub',
    REDIS_MAXMEMORY: '64mb',
    REDIS_TLS_DIR: tls,
  };
  const [port, sentinelPort] = [await freePort(), await freePort()];
  const scripts = redisScripts(rendered('prod'));
  // As mounted in the pod, on this machine's private ports and directories; the sentinels' Service is here.
  const rewrites = (dir: string): Array<[string, string]> => [
    ['26379', String(sentinelPort)],
    ['6379', String(port)],
    ['/acl/', `${dir}/acl/`],
    [' /data', ` ${dir}/data`],
    [' /sentinel', ` ${dir}/sentinel`],
    ['-h redis-sentinel', '-h 127.0.0.1'],
  ];
  const serverDir = join(root, 'server');
  installRedisScripts(scripts, serverDir, rewrites(serverDir));
  const sentinelDir = join(root, 'sentinel-pod');
  // No sentinel answers yet when it starts, so it watches the first pod: here, this machine.
  installRedisScripts(scripts, sentinelDir, [
    ...rewrites(sentinelDir),
    ['FIRST="redis-0.redis-headless.${POD_NAMESPACE}.svc.cluster.local"', 'FIRST="127.0.0.1"'],
  ]);
  for (const d of [`${serverDir}/acl`, `${serverDir}/data`, `${sentinelDir}/sentinel`])
    mkdirSync(d, { recursive: true });

  const server = new ServerProcess('sh', [join(serverDir, 'redis.sh')], { env, parentDeathSignal: 'SIGTERM' });
  let sentinel: ServerProcess | undefined;
  const ca = readFileSync(certs.caFile);
  try {
    await until('the redis probe passes', async () => (await sh(join(serverDir, 'ping.sh'), [], env)) === 0, 15_000);
    assert.equal(server.hasExited, false, server.log);
    // TLS only: a plain-text client gets nowhere, a client trusting the CA is served.
    const plain = new Redis({
      port,
      lazyConnect: true,
      connectTimeout: 1000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    plain.on('error', () => {});
    await assert.rejects(plain.connect().then(() => plain.ping()));
    plain.disconnect();
    const probe = new Redis({
      port,
      host: '127.0.0.1',
      tls: { ca },
      username: 'probe',
      password: PASSWORDS.PROBE_PASSWORD,
      enableReadyCheck: false, // the probe user may run PING only, not the ready check's INFO
    });
    assert.equal(await probe.ping(), 'PONG');
    probe.disconnect();

    sentinel = new ServerProcess('sh', [join(sentinelDir, 'sentinel.sh')], { env, parentDeathSignal: 'SIGTERM' });
    await until(
      'the sentinel probe passes',
      async () => (await sh(join(sentinelDir, 'ping.sh'), ['sentinel'], env)) === 0,
      15_000,
    );
    // The sentinel reached the server over TLS as its ACL user: it sees a master, not one down or unreachable.
    const ask = new Redis({
      port: sentinelPort,
      host: '127.0.0.1',
      tls: { ca },
      password: PASSWORDS.SENTINELS_PASSWORD,
    });
    try {
      await until(
        'the sentinel sees the primary up',
        async () => {
          const fields = (await ask.call('SENTINEL', 'master', 'mymaster')) as string[];
          const flags = fields[fields.indexOf('flags') + 1];
          return flags === 'master';
        },
        15_000,
      );
    } finally {
      ask.disconnect();
    }

    // An app process, as the manifests configure it: the URL, the passwords and NODE_EXTRA_CA_CERTS.
    const cli = await runCli(['queue', 'stats'], {
      ...process.env,
      REDIS_URL: `rediss-sentinel://processor@127.0.0.1:${sentinelPort}/mymaster`,
      REDIS_PASSWORD: PASSWORDS.PROCESSOR_PASSWORD,
      REDIS_SENTINEL_PASSWORD: PASSWORDS.SENTINELS_PASSWORD,
      NODE_EXTRA_CA_CERTS: certs.caFile,
    });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /pending/);
    // Without the CA, the same process refuses the server (the certificate is checked, not just encrypted).
    const untrusting = await runCli(['queue', 'stats'], {
      ...process.env,
      REDIS_URL: `rediss-sentinel://processor@127.0.0.1:${sentinelPort}/mymaster`,
      REDIS_PASSWORD: PASSWORDS.PROCESSOR_PASSWORD,
      REDIS_SENTINEL_PASSWORD: PASSWORDS.SENTINELS_PASSWORD,
    });
    assert.notEqual(untrusting.code, 0, untrusting.stdout);
  } finally {
    await sentinel?.stop('SIGTERM');
    await server.stop('SIGTERM');
    certs.remove();
    rmSync(root, { recursive: true, force: true });
  }
});
