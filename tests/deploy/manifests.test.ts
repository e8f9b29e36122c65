/**
 * The Kubernetes manifests, checked offline after rendering each overlay (tests/deploy/support/kustomize-lite.ts):
 * schemas, strict fields, and that they agree with the apps (config variables, ports, probe paths, queue names).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { queueKeys } from '@telemetryhub/queue';
import { splitImage } from './support/kustomize-lite.js';
import { OVERLAYS, rendered, workloads, type Container, type K8sObject, type Workload } from './support/manifests.js';
import { SCHEMA_SOURCE, schemaErrors, typeCheckStrict } from './support/k8s-schemas.js';
import { APPS, APP_NAMES, NODE_VARIABLES, type AppName } from './support/apps.js';

/** Which app a container runs, from its image (`telemetryhub/<app>`, or `<registry>/…/<app>` after `images:`). */
function appOf(c: Container): AppName | undefined {
  const [name] = splitImage(c.image);
  return APP_NAMES.find((a) => name.endsWith(`/${a}`));
}

interface EnvVar {
  name: string;
  value?: string;
}
interface ContainerSpec extends Container {
  env?: EnvVar[];
  envFrom?: Array<{ configMapRef?: { name: string } }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    runAsNonRoot?: boolean;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[] };
  };
}

/** Every variable a container sees: its env plus the keys of the ConfigMaps it takes with envFrom. */
function environment(objects: K8sObject[], c: ContainerSpec): Map<string, string | undefined> {
  const env = new Map<string, string | undefined>();
  for (const from of c.envFrom ?? []) {
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === from.configMapRef?.name);
    assert.ok(cm, `ConfigMap ${from.configMapRef?.name} exists`);
    for (const [k, v] of Object.entries(cm.data as Record<string, string>)) env.set(k, v);
  }
  for (const e of c.env ?? []) env.set(e.name, e.value);
  return env;
}

function appContainers(objects: K8sObject[]): Array<{ w: Workload; c: ContainerSpec; app: AppName }> {
  return workloads(objects).flatMap((w) =>
    (w.pod.containers as ContainerSpec[]).flatMap((c) => {
      const app = appOf(c);
      return app ? [{ w, c, app }] : [];
    }),
  );
}

for (const overlay of OVERLAYS) {
  test(`overlays/${overlay}: every namespaced object lands in telemetryhub, components' too`, () => {
    const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition']);
    const elsewhere = rendered(overlay)
      .filter((o) => !clusterScoped.has(o.kind) && o.metadata.namespace !== 'telemetryhub')
      .map((o) => `${o.kind}/${o.metadata.name} (${o.metadata.namespace ?? 'no namespace'})`);
    assert.deepEqual(elsewhere, []);
  });

  test(`overlays/${overlay}: the recommended labels on every object and every pod, components' included`, () => {
    const objects = rendered(overlay);
    const want = ['part-of', 'instance', 'version', 'managed-by'].map((l) => `app.kubernetes.io/${l}`);
    const missing = (where: string, labels: Record<string, string> | undefined) =>
      want.filter((l) => !labels?.[l]).map((l) => `${where}: ${l}`);
    const gaps = objects.flatMap((o) => [
      ...missing(`${o.kind}/${o.metadata.name}`, o.metadata.labels),
      ...workloads([o]).flatMap((w) => missing(`${o.kind}/${o.metadata.name} pods`, w.podLabels)),
    ]);
    assert.deepEqual(gaps, []);
    // The version is what the app images are tagged.
    const tags = new Set(appContainers(objects).map(({ c }) => (c.image ?? '').split(':').at(-1)));
    const versions = new Set(objects.map((o) => o.metadata.labels?.['app.kubernetes.io/version']));
    assert.deepEqual([...versions], [...tags]);
  });

  test(`overlays/${overlay}: every object validates against the ${SCHEMA_SOURCE} schemas`, async () => {
    const objects = rendered(overlay);
    const errors: string[] = [];
    for (const o of objects) {
      const e = await schemaErrors(o);
      if (e) errors.push(`${o.kind}/${o.metadata.name}: ${e}`);
    }
    assert.deepEqual(errors, []);
    assert.deepEqual(typeCheckStrict(objects), [], 'no unknown or misspelt fields');
  });

  test(`overlays/${overlay}: every variable set on an app container is one the app reads`, () => {
    const objects = rendered(overlay);
    const found = appContainers(objects);
    assert.deepEqual([...new Set(found.map((f) => f.app))].sort(), [...APP_NAMES].sort(), 'both apps deployed');
    for (const { w, c, app } of found) {
      const unknown = [...environment(objects, c).keys()].filter(
        (k) => !(APPS[app].keys as string[]).includes(k) && !NODE_VARIABLES.includes(k),
      );
      assert.deepEqual(unknown, [], `${w.object.kind}/${w.object.metadata.name} sets variables ${app} does not read`);
    }
  });

  test(`overlays/${overlay}: probes hit /health and /ready on the port the app listens on`, () => {
    const objects = rendered(overlay);
    for (const { w, c, app } of appContainers(objects)) {
      const where = `${w.object.kind}/${w.object.metadata.name}`;
      const listens = Number(environment(objects, c).get(APPS[app].portVar) ?? APPS[app].defaultPort);
      const portOf = (p: string | number | undefined) =>
        typeof p === 'number' ? p : c.ports?.find((cp) => cp.name === p)?.containerPort;
      assert.equal(c.livenessProbe?.httpGet?.path, '/health', `${where} liveness`);
      assert.equal(c.readinessProbe?.httpGet?.path, '/ready', `${where} readiness`);
      assert.equal(portOf(c.livenessProbe?.httpGet?.port), listens, `${where} liveness port`);
      assert.equal(portOf(c.readinessProbe?.httpGet?.port), listens, `${where} readiness port`);
      // Services in front of the workload send traffic to that port too.
      for (const svc of objects.filter((o) => o.kind === 'Service')) {
        const spec = svc.spec as { selector?: Record<string, string>; ports: Array<{ targetPort?: string | number }> };
        const selects = Object.entries(spec.selector ?? {}).every(([k, v]) => w.podLabels[k] === v);
        if (!selects) continue;
        for (const p of spec.ports) assert.equal(portOf(p.targetPort), listens, `Service ${svc.metadata.name}`);
      }
    }
  });

  test(`overlays/${overlay}: the grace period covers preStop plus the app's drain`, () => {
    const objects = rendered(overlay);
    for (const { w, c } of appContainers(objects)) {
      const drain = Number(environment(objects, c).get('SHUTDOWN_TIMEOUT_SECONDS') ?? 25);
      const cmd = c.lifecycle?.preStop?.exec?.command ?? [];
      const preStop = cmd[0] === 'sleep' ? Number(cmd[1]) : 0;
      const grace = Number(w.pod.terminationGracePeriodSeconds ?? 30);
      assert.ok(preStop > 0, `${w.object.metadata.name} has a preStop pause`);
      assert.ok(grace >= preStop + drain + 1, `${w.object.metadata.name}: grace ${grace} < ${preStop} + ${drain} + 1`);
    }
  });

  test(`overlays/${overlay}: containers run as non-root on a read-only root filesystem with limits`, () => {
    const objects = rendered(overlay);
    for (const w of workloads(objects)) {
      const podNonRoot = (w.pod.securityContext as { runAsNonRoot?: boolean } | undefined)?.runAsNonRoot;
      for (const c of w.pod.containers as ContainerSpec[]) {
        const where = `${w.object.kind}/${w.object.metadata.name}/${c.name}`;
        assert.ok(c.securityContext?.runAsNonRoot ?? podNonRoot, `${where} runAsNonRoot`);
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${where} readOnlyRootFilesystem`);
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${where} allowPrivilegeEscalation`);
        assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${where} drops capabilities`);
        for (const r of ['cpu', 'memory']) {
          assert.ok(c.resources?.requests?.[r] && c.resources?.limits?.[r], `${where} ${r} request and limit`);
        }
      }
    }
  });

  test(`overlays/${overlay}: one autoscaler per workload; KEDA watches the list producers push to`, () => {
    const objects = rendered(overlay);
    const targets = [
      ...objects
        .filter((o) => o.kind === 'HorizontalPodAutoscaler')
        .map((o) => (o.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name),
      ...objects
        .filter((o) => o.kind === 'ScaledObject')
        .map((o) => (o.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name),
    ];
    assert.deepEqual(
      targets.filter((t, i) => targets.indexOf(t) !== i),
      [],
      'an HPA and a ScaledObject on one target',
    );
    assert.ok(targets.includes('task-processor'), 'the processor autoscales');
    const config = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'telemetryhub-config');
    const keys = queueKeys((config?.data as Record<string, string>).QUEUE_NAME!);
    for (const so of objects.filter((o) => o.kind === 'ScaledObject')) {
      const lists = (so.spec as { triggers: Array<{ type: string; metadata: { listName?: string } }> }).triggers
        .filter((t) => t.type.startsWith('redis'))
        .map((t) => t.metadata.listName);
      assert.deepEqual(lists.sort(), [keys.pending, keys.pendingHigh].sort());
    }
  });

  test(`overlays/${overlay}: only pods labelled as clients reach Redis and PostgreSQL, and the apps carry the labels`, () => {
    const objects = rendered(overlay);
    const policy = (name: string) => objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === name);
    assert.ok(policy('redis-clients') && policy('postgres-clients'));
    for (const { w, c } of appContainers(objects)) {
      const env = environment(objects, c);
      if (env.has('REDIS_URL'))
        assert.equal(w.podLabels['telemetryhub.io/redis-client'], 'true', w.object.metadata.name);
      if (env.has('DATABASE_URL')) {
        assert.equal(w.podLabels['telemetryhub.io/postgres-client'], 'true', w.object.metadata.name);
      }
    }
  });
}
