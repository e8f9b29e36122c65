import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMetricsRegistry } from '@telemetryhub/service-kit';
import { createHubMetrics } from '../metrics/hub-metrics.js';
import { ClockSkewGuard } from './clock-skew-guard.js';

test('the per-device skew table keeps the devices seen most recently, at most maxDevices, most events first', () => {
  const metrics = createHubMetrics(createMetricsRegistry({ service: 't', version: 't', defaultMetrics: false }));
  const guard = new ClockSkewGuard({ maxFutureSkewMs: 1000, policy: 'reject', metrics, maxDevices: 3 });
  const report = guard.parseOptions.onFutureSkew!;
  report('a', 5_000, 'rejected');
  report('b', 5_000, 'rejected');
  report('c', 5_000, 'rejected');
  report('a', 9_000, 'clamped'); // a seen again: b is now the least recent
  report('d', 5_000, 'rejected'); // a fourth device evicts b
  const table = guard.snapshot();
  assert.deepEqual(table.map((d) => d.device_id).sort(), ['a', 'c', 'd']);
  assert.equal(table[0]!.device_id, 'a', 'most events first');
  assert.deepEqual([table[0]!.rejected, table[0]!.clamped, table[0]!.max_ahead_seconds], [1, 1, 9]);
});
