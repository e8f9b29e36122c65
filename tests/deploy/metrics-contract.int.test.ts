/**
 * The deployment's promises, checked against the running apps: the compiled apps start under plain node as the
 * images' CMD runs them, the images' HEALTHCHECK command passes against them, and every metric that the
 * PrometheusRule and the Grafana dashboard query is one the apps really export.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { until } from '@telemetryhub/testkit';
import { startLocalPipeline, type LocalPipeline } from '../../scripts/local-pipeline.js';
import { ROOT } from './support/manifests.js';
import { healthcheckArgv, parseDockerfile } from './support/dockerfile.js';
import { exportedNames, metricNames, shippedQueries } from './support/promql.js';

/** Series Prometheus writes itself for every target it scrapes. */
const PROMETHEUS_OWN = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

let pipeline: LocalPipeline;
before(async () => {
  // The images run tsc's output: build it (incremental; `npm test` has just type-checked, so usually a no-op).
  execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'apps/hub', 'apps/task-processor'],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  );
  pipeline = await startLocalPipeline({
    compiled: true,
    env: { NODE_ENV: 'production', SIM_DEVICES: '2', SIM_RATE_HZ: '2', LOG_LEVEL: 'warn' },
  });
});
after(() => pipeline?.stop());

for (const app of ['hub', 'task-processor'] as const) {
  test(`the ${app} image's HEALTHCHECK command passes against the compiled app`, async () => {
    const final = parseDockerfile(readFileSync(join(ROOT, `apps/${app}/Dockerfile`), 'utf8')).at(-1)!;
    const health = final.instructions.find((i) => i.op === 'HEALTHCHECK')!.args;
    const port = new URL(app === 'hub' ? pipeline.hubUrl : pipeline.processorUrl).port;
    const [cmd, ...args] = healthcheckArgv(health, { HUB_PORT: port, PROCESSOR_PORT: port });
    assert.equal(cmd, 'node');
    const status = await new Promise<number>((resolve) =>
      execFile(process.execPath, args, { cwd: ROOT, timeout: 20_000 }, (err) => resolve(err ? Number(err.code) : 0)),
    );
    assert.equal(status, 0);
  });
}

test('every metric the alerts and the dashboard query is exported by the running apps', async () => {
  const exported = new Set<string>();
  for (const url of [pipeline.hubUrl, pipeline.processorUrl]) {
    const res = await fetch(`${url}/metrics`);
    assert.equal(res.status, 200);
    for (const n of exportedNames(await res.text())) exported.add(n);
  }
  assert.ok(exported.has('telemetryhub_hub_readings_total') && exported.has('telemetryhub_queue_depth'));
  const missing = shippedQueries().flatMap(({ where, expr }) =>
    metricNames(expr)
      .filter((n) => !exported.has(n) && !PROMETHEUS_OWN.has(n))
      .map((n) => `${where}: ${n}`),
  );
  assert.deepEqual(missing, [], 'queries name metrics the apps do not export');
});

test('standard metrics keep their standard names, labelled with the service; ours share one prefix', async () => {
  for (const [url, service] of [
    [pipeline.hubUrl, 'telemetryhub-hub'],
    [pipeline.processorUrl, 'telemetryhub-task-processor'],
  ] as const) {
    const text = await (await fetch(`${url}/metrics`)).text();
    assert.match(text, new RegExp(`^process_cpu_seconds_total\\{service="${service}"\\} `, 'm'));
    assert.match(text, new RegExp(`^nodejs_heap_size_used_bytes\\{service="${service}"\\} `, 'm'));
    assert.match(
      text,
      new RegExp(`^telemetryhub_build_info\\{service="${service}",version="[^"]+",node_version="v`, 'm'),
    );
    const foreign = [...exportedNames(text)].filter((n) => !/^(telemetryhub_|process_|nodejs_)/.test(n));
    assert.deepEqual(foreign, [], 'every other metric carries the product prefix');
  }
});

test('the processor seals minutes and hours from start-up on: the gauges the seal alert watches say where each seal stands', async () => {
  // Until a first seal run a gauge reads 0, and TelemetryHubRollupSealBehind (now − gauge > 15 min or 3 h) would fire.
  const gauge = (granularity: string) =>
    new RegExp(
      `^telemetryhub_processor_rollup_sealed_before_timestamp_seconds\\{[^}]*granularity="${granularity}"[^}]*\\} (\\S+)$`,
      'm',
    );
  for (const [granularity, withinS] of [
    ['1m', 10 * 60],
    ['1h', 2 * 3600],
  ] as const) {
    let sealedBefore = 0;
    await until(`the ${granularity} seal gauge is set`, async () => {
      const text = await (await fetch(`${pipeline.processorUrl}/metrics`)).text();
      sealedBefore = Number(gauge(granularity).exec(text)?.[1] ?? 0);
      return sealedBefore > 0;
    });
    const ageS = Date.now() / 1000 - sealedBefore;
    assert.ok(
      ageS >= 0 && ageS < withinS,
      `${granularity} sealed before ${new Date(sealedBefore * 1000).toISOString()}: within the last ${withinS} s`,
    );
  }
});
