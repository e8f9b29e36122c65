import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { exportedNames, metricNames, shippedQueries } from './support/promql.js';
import { ROOT } from './support/manifests.js';

test('metric names are read from PromQL by the Prometheus grammar, functions and labels aside', () => {
  assert.deepEqual(
    metricNames(
      'histogram_quantile(0.99, sum by (le) (rate(a_seconds_bucket{x="y"}[$__rate_interval]))) > 1 and ignoring(s) b == 1',
    ).sort(),
    ['a_seconds_bucket', 'b'],
  );
  assert.deepEqual(metricNames('time() - c_timestamp_seconds > 120'), ['c_timestamp_seconds']);
  assert.throws(() => metricNames('sum(rate(x[5m])'), /syntax error/);
});

test('every alert and dashboard query the project ships parses', () => {
  const queries = shippedQueries();
  assert.ok(queries.length > 20);
  for (const q of queries) assert.ok(metricNames(q.expr).length > 0, `${q.where} selects a metric`);
});

test('exported names come from TYPE lines, histograms with their series', () => {
  const names = exportedNames('# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 0\n# TYPE c_total counter\n');
  assert.deepEqual([...names].sort(), ['c_total', 'h', 'h_bucket', 'h_count', 'h_sum']);
});

test('every alert links its runbook section, and every runbook section is an alert’s', () => {
  const rule = parse(readFileSync(join(ROOT, 'k8s/base/monitoring/prometheusrule.yaml'), 'utf8')) as {
    spec: { groups: Array<{ rules: Array<{ alert: string; annotations: Record<string, string>; expr: string }> }> };
  };
  const alerts = rule.spec.groups.flatMap((g) => g.rules);
  const runbooks = readFileSync(join(ROOT, 'docs/runbooks.md'), 'utf8');
  // GitHub's anchor of a heading made of letters only: the heading in lower case.
  const sections = new Set([...runbooks.matchAll(/^### (\S+)$/gm)].map((m) => m[1]!.toLowerCase()));
  for (const a of alerts) {
    assert.equal(a.annotations.runbook_url, `docs/runbooks.md#${a.alert.toLowerCase()}`, a.alert);
    assert.ok(sections.has(a.alert.toLowerCase()), `docs/runbooks.md has a section for ${a.alert}`);
  }
  assert.deepEqual(
    [...sections].sort(),
    alerts.map((a) => a.alert.toLowerCase()).sort(),
    'no section without its alert',
  );
  assert.ok(
    alerts.some((a) => /\babsent\(/.test(a.expr)),
    'an alert fires when the processors are gone (their queue gauges vanish with them)',
  );
});
