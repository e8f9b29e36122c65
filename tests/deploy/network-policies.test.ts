/**
 * The shipped NetworkPolicies, evaluated offline per overlay: everything is denied by default in both directions,
 * every flow the system needs is allowed (between the rendered workloads' own pod labels), and flows no role needs
 * stay denied. Fails when a policy, a label or a port drifts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OVERLAYS, rendered, workloads } from './support/manifests.js';
import { allowed, type Peer } from './support/network-policy.js';

const NS = 'telemetryhub';
const outsider: Peer = { namespace: 'default', labels: { app: 'curious' } };
const prometheus: Peer = {
  namespace: 'monitoring',
  namespaceLabels: { 'telemetryhub.io/scrapes': 'true' },
  labels: { 'app.kubernetes.io/name': 'prometheus' },
};
const ingressController: Peer = {
  namespace: 'ingress-nginx',
  namespaceLabels: { 'telemetryhub.io/api-access': 'true' },
  labels: { 'app.kubernetes.io/name': 'ingress-nginx' },
};
const keda: Peer = { namespace: 'keda', labels: { app: 'keda-operator' } };
const dns: Peer = { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } };
const strangerInNamespace: Peer = { namespace: NS, labels: { app: 'debug-shell' } };

for (const overlay of OVERLAYS) {
  const objects = rendered(overlay);
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  const pod = (name: string): Peer => {
    const w = workloads(objects).find((x) => x.podLabels['app.kubernetes.io/name'] === name);
    assert.ok(w, `${overlay} has a ${name} workload`);
    return { namespace: w.object.metadata.namespace ?? '', labels: w.podLabels };
  };
  const has = (name: string) => workloads(objects).some((x) => x.podLabels['app.kubernetes.io/name'] === name);
  const can = (from: Peer, to: Peer, port: number, protocol: 'TCP' | 'UDP' = 'TCP') =>
    allowed(policies, from, to, port, protocol);

  test(`overlays/${overlay}: every pod is denied in and out by default`, () => {
    const deny = policies.find((p) => p.metadata.name === 'default-deny');
    assert.ok(deny, 'a default-deny policy');
    assert.deepEqual(deny.spec, { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    assert.equal(deny.metadata.namespace, NS);
  });

  test(`overlays/${overlay}: the flows the system needs are allowed`, () => {
    const apps = ['hub', 'task-processor', ...(has('hub-ingest') ? ['hub-ingest'] : [])].map(pod);
    const [hub, processor] = apps as [Peer, Peer];
    const redis = pod('redis');
    for (const app of [...apps, redis]) assert.ok(can(app, dns, 53, 'UDP'), 'DNS');
    for (const app of apps) assert.ok(can(app, redis, 6379), 'apps → Redis');
    assert.ok(can(processor, redis, 26379), 'processor → Sentinel');
    assert.ok(can(redis, redis, 6379) && can(redis, redis, 26379), 'Redis replication and Sentinel gossip');
    const scaledByKeda = objects.some((o) => o.kind === 'ScaledObject');
    assert.equal(can(keda, redis, 6379), scaledByKeda, 'KEDA → Redis (queue lengths) where KEDA scales the processor');
    if (has('postgres')) assert.ok(can(processor, pod('postgres'), 5432), 'processor → PostgreSQL in the cluster');
    assert.ok(can(processor, 'outside', 5432), 'processor → a PostgreSQL outside');
    assert.ok(can(processor, 'outside', 443), 'processor → webhook targets');
    for (const app of apps) assert.ok(can(app, 'outside', 4318), 'OTLP trace export');
    for (const app of apps) assert.ok(can(prometheus, app, app === processor ? 8081 : 8080), 'Prometheus → /metrics');
    assert.ok(can('outside', hub, 8080), 'devices → hub ingest');
    assert.ok(can(ingressController, processor, 8081), 'Ingress controller → processor API');
  });

  test(`overlays/${overlay}: flows no role needs are denied`, () => {
    const hub = pod('hub');
    const processor = pod('task-processor');
    const redis = pod('redis');
    assert.ok(!can(strangerInNamespace, redis, 6379), 'an unlabelled pod → Redis');
    assert.ok(!can(outsider, redis, 6379), 'another namespace → Redis');
    assert.ok(!can(outsider, processor, 8081), 'an unmarked namespace → processor API');
    assert.ok(!can('outside', processor, 8081), 'the outside → processor API');
    assert.ok(!can(hub, 'outside', 5432), 'hub → PostgreSQL (not its role)');
    assert.ok(!can(hub, 'outside', 443), 'hub → arbitrary HTTPS');
    assert.ok(!can(redis, 'outside', 443), 'Redis → the outside');
    assert.ok(!can(processor, hub, 8080), 'processor → hub (no such flow)');
    if (has('postgres')) {
      const postgres = pod('postgres');
      assert.ok(!can(hub, postgres, 5432), 'hub → PostgreSQL');
      assert.ok(!can(postgres, 'outside', 443), 'PostgreSQL → the outside');
    }
  });
}
