import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './support/manifests.js';
import { APPS } from './support/apps.js';
import { redisRoleRules } from '@telemetryhub/queue';

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
}
const readYaml = (path: string) => parse(readFileSync(join(ROOT, path), 'utf8')) as Record<string, unknown>;
const compose = readYaml('docker-compose.yml') as { services: Record<string, Service> };

test('docker-compose.yml runs the whole stack and sets only variables the apps read', () => {
  assert.deepEqual(Object.keys(compose.services).sort(), [
    'grafana',
    'hub',
    'postgres',
    'prometheus',
    'redis',
    'task-processor',
  ]);
  for (const [name, app] of Object.entries(APPS)) {
    const svc = compose.services[name]!;
    const unknown = Object.keys(svc.environment ?? {}).filter((k) => !(app.keys as string[]).includes(k));
    assert.deepEqual(unknown, [], `${name} sets variables it does not read`);
    assert.ok(svc.build && existsSync(join(ROOT, svc.build.context, svc.build.dockerfile)), `${name} Dockerfile`);
    const port = svc.environment?.[app.portVar];
    assert.ok(svc.ports?.includes(`${port}:${port}`), `${name} publishes the port it listens on`);
  }
  const redisCmd = (compose.services.redis as { command: string[] }).command.join(' ');
  assert.match(redisCmd, /--appendonly yes/);
  assert.match(redisCmd, /--maxmemory-policy noeviction/);
});

test("Compose's Redis is closed: no default user, the hub and the processor each as its own role's ACL user", () => {
  const command = (compose.services.redis as { command: string[] }).command;
  const user = (name: string) => {
    const at = command.findIndex((c, i) => c === name && command[i - 1] === '--user');
    assert.ok(at > 0, `a --user ${name}`);
    const end = command.indexOf('--user', at);
    return command.slice(at + 1, end === -1 ? undefined : end);
  };
  assert.deepEqual(user('default'), ['off']);
  for (const role of ['hub', 'processor'] as const) {
    const [on, password, ...rules] = user(role);
    assert.equal(on, 'on');
    assert.match(password!, /^>\$\{REDIS_PASSWORD:\?/, 'the password must be given: there is no default');
    assert.deepEqual(rules, redisRoleRules(role, 'tasks'), `${role}: the rules of libs/queue/src/acl.ts`);
  }
  assert.match(compose.services.hub!.environment!.REDIS_URL!, /^redis:\/\/hub:\$\{REDIS_PASSWORD/);
  assert.match(compose.services['task-processor']!.environment!.REDIS_URL!, /^redis:\/\/processor:\$\{REDIS_PASSWORD/);
});

test('every file the Compose stack mounts exists', () => {
  for (const [name, svc] of Object.entries(compose.services)) {
    for (const v of svc.volumes ?? []) {
      const host = v.split(':')[0]!;
      if (host.startsWith('.')) assert.ok(existsSync(join(ROOT, host)), `${name} mounts ${host}`);
    }
  }
});

test("Compose's Prometheus scrapes both apps and loads the same alert rules as the PrometheusRule", () => {
  const prom = readYaml('deploy/compose/prometheus/prometheus.yml') as {
    rule_files: string[];
    scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
  };
  for (const [name, app] of Object.entries(APPS)) {
    const job = prom.scrape_configs.find((j) => j.job_name === name);
    const port = compose.services[name]!.environment?.[app.portVar];
    assert.deepEqual(job?.static_configs[0]?.targets, [`${name}:${port}`]);
  }
  const rule = readYaml('k8s/base/monitoring/prometheusrule.yaml') as { spec: { groups: unknown } };
  const alerts = readYaml('deploy/compose/prometheus/alerts.yml') as { groups: unknown };
  assert.deepEqual(alerts.groups, rule.spec.groups, 'deploy/compose/prometheus/alerts.yml drifted from k8s/');
});
