import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exportedNames, metricNames, shippedQueries } from './support/promql.js';

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
