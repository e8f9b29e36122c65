/**
 * The prod overlay's Ingress: TLS for every host, backends that exist, the hubs' ingest paths as the hub serves
 * them, and the processor's read API published without its admin routes (checked against the routes the apps'
 * sources register).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, rendered } from './support/manifests.js';

interface IngressSpec {
  ingressClassName?: string;
  tls?: Array<{ hosts: string[]; secretName: string }>;
  rules: Array<{
    host: string;
    http: {
      paths: Array<{ path: string; pathType: string; backend: { service: { name: string; port: { name: string } } } }>;
    };
  }>;
}

/** `router.get('/v1/…')` / `router.post([...])` paths registered in an app's sources (express route strings). */
function routes(app: string): string[] {
  const dir = join(ROOT, 'apps', app, 'src');
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter(
    (f) => f.endsWith('.ts') && !f.includes('.test'),
  );
  const found: string[] = [];
  for (const f of files) {
    const text = readFileSync(join(dir, f), 'utf8');
    for (const m of text.matchAll(/router\.(?:get|post)\(\s*(\[[^\]]*\]|'[^']*'|`[^`]*`)/g)) {
      found.push(...[...m[1]!.matchAll(/['`]([^'`]+)['`]/g)].map((x) => x[1]!));
    }
  }
  return found;
}

const covers = (ingressPath: string, pathType: string, route: string) =>
  pathType === 'Exact' ? route === ingressPath : route === ingressPath || route.startsWith(`${ingressPath}/`);

test('overlays/prod: an Ingress with TLS for every host, backends that exist, ingest as the hub serves it, no admin routes', () => {
  const objects = rendered('prod');
  const ingress = objects.find((o) => o.kind === 'Ingress');
  assert.ok(ingress, 'an Ingress');
  assert.equal(ingress.metadata.namespace, 'telemetryhub');
  const spec = ingress.spec as unknown as IngressSpec;
  const annotations = (ingress.metadata.annotations ?? {}) as Record<string, string>;
  assert.ok(annotations['cert-manager.io/cluster-issuer'], 'certificates from cert-manager');
  const tlsHosts = new Set((spec.tls ?? []).filter((t) => t.secretName).flatMap((t) => t.hosts));
  for (const rule of spec.rules) assert.ok(tlsHosts.has(rule.host), `${rule.host} is served over TLS`);

  const services = objects.filter((o) => o.kind === 'Service');
  const paths = spec.rules.flatMap((r) => r.http.paths);
  for (const p of paths) {
    const svc = services.find((s) => s.metadata.name === p.backend.service.name);
    assert.ok(svc, `backend Service ${p.backend.service.name} exists`);
    const ports = (svc.spec as { ports: Array<{ name: string }> }).ports.map((x) => x.name);
    assert.ok(
      ports.includes(p.backend.service.port.name),
      `${p.backend.service.name} has port ${p.backend.service.port.name}`,
    );
  }

  const hubRoutes = routes('hub');
  const ingest = paths
    .filter((p) => p.backend.service.name === 'hub-ingest')
    .map((p) => p.path)
    .sort();
  assert.deepEqual(ingest, ['/telemetry', '/v1/telemetry']);
  for (const p of ingest) assert.ok(hubRoutes.includes(p), `the hub serves ${p}`);

  const processorRoutes = routes('task-processor');
  assert.ok(
    processorRoutes.some((r) => r.startsWith('/v1/dlq')),
    'the route scan finds the admin routes',
  );
  // The admin API (dead letters, expired readings and their replay) and its older spelling.
  const admin = [
    ...processorRoutes.filter((r) => r.startsWith('/v1/dlq')),
    '/v1/expired-readings',
    '/v1/late-readings',
  ];
  for (const p of paths.filter((x) => x.backend.service.name === 'task-processor')) {
    assert.ok(
      processorRoutes.some((r) => covers(p.path, p.pathType, r)),
      `${p.path} publishes routes the processor has`,
    );
    for (const r of admin) {
      assert.ok(!covers(p.path, p.pathType, r) && !r.startsWith(p.path), `${p.path} does not publish ${r}`);
    }
  }
});
