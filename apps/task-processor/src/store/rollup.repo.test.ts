import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testReading } from '../test-support.js';
import { aggregate } from './rollup.repo.js';

const r = (device: string, metric: string, time: string, value: number) =>
  testReading({ device_id: device, metric, event_time: time, value });

test('folds readings per (device, metric, bucket), sorted by that key so replicas lock buckets in one order', () => {
  const parts = aggregate(
    [
      r('b', 'temp', '2026-01-01T00:00:30Z', 2),
      r('a', 'temp', '2026-01-01T00:01:10Z', 5),
      r('a', 'hum', '2026-01-01T00:00:10Z', 1),
      r('b', 'temp', '2026-01-01T00:00:50Z', 4),
      r('ab', 'temp', '2026-01-01T00:00:00Z', 9),
    ],
    '1m',
  );
  assert.deepEqual(
    parts.map((p) => [p.device, p.metric, p.bucket.slice(11, 16), p.count, p.sum, p.min, p.max]),
    [
      ['a', 'hum', '00:00', 1, 1, 1, 1],
      ['a', 'temp', '00:01', 1, 5, 5, 5],
      ['ab', 'temp', '00:00', 1, 9, 9, 9],
      ['b', 'temp', '00:00', 2, 6, 2, 4],
    ],
  );
});

test('each bucket carries m2, the sum of squared deviations from its mean, stable for a large mean', () => {
  const values = [1_000_000.1, 1_000_000.2, 1_000_000.3, 1_000_000.4];
  const [part] = aggregate(
    values.map((v, i) => r('volt', 'v', `2026-01-01T00:00:${10 + i}Z`, v)),
    '1m',
  );
  const mean = values.reduce((a, b) => a + b) / values.length;
  const m2 = values.reduce((a, v) => a + (v - mean) ** 2, 0);
  assert.equal(part!.count, 4);
  assert.ok(Math.abs(part!.m2 - m2) < 1e-6, `m2 ${part!.m2} vs ${m2}`);
  assert.ok(Math.abs(part!.m2 - 0.05) < 1e-6, 'the spread of 0.1 steps survives a mean of a million');
  const [single] = aggregate([r('volt', 'v', '2026-01-01T00:00:00Z', 5)], '1m');
  assert.equal(single!.m2, 0);
});
