import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testReading } from '../test-support.js';
import { DEFAULT_RULES, alertKey, evaluateRules } from './alert-rules.js';

const reading = (metric: string, value: number, second: number, device = 'd1') =>
  testReading({
    device_id: device,
    metric,
    value,
    event_time: new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString(),
  });

test('fires once when a reading crosses a threshold, and not again while it stays above', () => {
  const actions = evaluateRules(
    [reading('temperature', 85.1, 1), reading('temperature', 90, 2)],
    DEFAULT_RULES,
    new Set(),
  );
  assert.deepEqual(
    actions.map((a) => [a.type, a.rule.kind, a.reading.value]),
    [['fire', 'max', 85.1]],
  );
});

test('resolves only once the value is back past the hysteresis band, then can fire again', () => {
  const values = [85, 79, 78.5, 77.9, 81];
  const actions = evaluateRules(
    values.map((v, i) => reading('temperature', v, i)),
    DEFAULT_RULES,
    new Set(),
  );
  assert.deepEqual(
    actions.map((a) => [a.type, a.reading.value]),
    [
      ['fire', 85],
      ['resolve', 77.9],
      ['fire', 81],
    ],
  );
});

test('continues a stream already firing (state from storage) and judges readings in event-time order', () => {
  const firing = new Set([alertKey('d1', 'voltage', 'min')]);
  const actions = evaluateRules([reading('voltage', 3.3, 5), reading('voltage', 2.5, 1)], DEFAULT_RULES, firing);
  assert.deepEqual(
    actions.map((a) => [a.type, a.reading.value]),
    [['resolve', 3.3]],
    'the earlier low reading does not re-fire a stream that is still firing',
  );
});

test('applies the documented defaults for every metric, and ignores metrics without rules', () => {
  const actions = evaluateRules(
    [
      reading('temperature', -25, 1),
      reading('humidity', 97.5, 2),
      reading('voltage', 2.61, 3),
      reading('current', 2.5, 4),
      reading('pressure', 5000, 5),
    ],
    DEFAULT_RULES,
    new Set(),
  );
  assert.deepEqual(
    actions.map((a) => `${a.rule.metric}:${a.rule.kind}`),
    ['temperature:min', 'humidity:max', 'voltage:min', 'current:max'],
  );
});
