import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { testReading } from '../app.test-support.js';
import { batchStatistics } from './batch-statistics.js';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

test('per metric, in order of first appearance: count, devices, min, max, mean, sample stddev, time span', () => {
  const stats = batchStatistics([
    testReading({ device_id: 'a', metric: 'temperature', value: 20, event_time: at(5) }),
    testReading({ device_id: 'a', metric: 'humidity', value: 40, event_time: at(5) }),
    testReading({ device_id: 'b', metric: 'temperature', value: 24, event_time: at(2) }),
    testReading({ device_id: 'a', metric: 'temperature', value: 22, event_time: at(9) }),
  ]);
  assert.deepEqual(stats, [
    {
      metric: 'temperature',
      readings: 3,
      devices: 2,
      min: 20,
      max: 24,
      mean: 22,
      stddev: 2,
      first_event_time: at(2),
      last_event_time: at(9),
    },
    {
      metric: 'humidity',
      readings: 1,
      devices: 1,
      min: 40,
      max: 40,
      mean: 40,
      stddev: null,
      first_event_time: at(5),
      last_event_time: at(5),
    },
  ]);
  assert.deepEqual(batchStatistics([]), []);
});

test('property: equal to the two-pass definitions, for any values (stable for a large mean and a small spread)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 200 }),
      fc.double({ min: -1e9, max: 1e9, noNaN: true }),
      (values, offset) => {
        const shifted = values.map((v) => v + offset);
        const [s] = batchStatistics(
          shifted.map((value, i) => testReading({ device_id: `d${i % 3}`, metric: 'm', value, event_time: at(i) })),
        );
        const n = shifted.length;
        const mean = shifted.reduce((a, b) => a + b, 0) / n;
        const variance = shifted.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
        const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(offset), Math.abs(b));
        assert.equal(s!.readings, n);
        assert.equal(s!.devices, Math.min(3, n));
        assert.equal(s!.min, Math.min(...shifted));
        assert.equal(s!.max, Math.max(...shifted));
        assert.ok(close(s!.mean, mean), `mean ${s!.mean} vs ${mean}`);
        if (n === 1) assert.equal(s!.stddev, null);
        else assert.ok(close(s!.stddev!, Math.sqrt(variance)), `stddev ${s!.stddev} vs ${Math.sqrt(variance)}`);
      },
    ),
  );
});
