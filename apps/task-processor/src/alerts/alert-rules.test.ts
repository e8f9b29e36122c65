import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { testReading } from '../app.test-support.js';
import { DEFAULT_RULES, alertKey, evaluateRules, type AlertAction, type ThresholdRule } from './alert-rules.js';

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

test("a device's own rule replaces the rule of every device of the same metric and kind, for that device only", () => {
  const rules = [
    ...DEFAULT_RULES,
    { metric: 'temperature', kind: 'max' as const, threshold: 250, hysteresis: 5, device: 'oven-1' },
  ];
  const actions = evaluateRules(
    [
      reading('temperature', 120, 1, 'oven-1'), // above 80, below its own 250: quiet
      reading('temperature', 120, 2, 'd1'), // every other device: above 80
      reading('temperature', 251, 3, 'oven-1'),
      reading('temperature', -30, 4, 'oven-1'), // the min rule of every device still applies to it
    ],
    rules,
    new Set(),
  );
  assert.deepEqual(
    actions.map((a) => [a.type, a.reading.device_id, a.rule.kind, a.rule.threshold, a.reading.value]),
    [
      ['fire', 'd1', 'max', 80, 120],
      ['fire', 'oven-1', 'max', 250, 251],
      ['resolve', 'oven-1', 'max', 250, -30],
      ['fire', 'oven-1', 'min', -20, -30],
    ],
  );
});

/** The rules' meaning written plainly: every reading in event-time order, every rule that judges it. */
function walkEveryReading(
  readings: ReturnType<typeof reading>[],
  rules: readonly ThresholdRule[],
  firing: ReadonlySet<string>,
): AlertAction[] {
  const state = new Set(firing);
  const actions: AlertAction[] = [];
  const inEventTimeOrder = [...readings].sort((a, b) =>
    a.event_time < b.event_time ? -1 : a.event_time > b.event_time ? 1 : 0,
  );
  for (const r of inEventTimeOrder) {
    const own = rules.filter((x) => x.device === r.device_id && x.metric === r.metric);
    const shared = rules.filter(
      (x) => x.device === undefined && x.metric === r.metric && !own.some((o) => o.kind === x.kind),
    );
    for (const rule of [...own, ...shared]) {
      const key = alertKey(r.device_id, rule.metric, rule.kind);
      const breach = rule.kind === 'max' ? r.value > rule.threshold : r.value < rule.threshold;
      const back =
        rule.kind === 'max' ? r.value <= rule.threshold - rule.hysteresis : r.value >= rule.threshold + rule.hysteresis;
      if (!state.has(key) && breach) {
        state.add(key);
        actions.push({ type: 'fire', rule, reading: r });
      } else if (state.has(key) && back) {
        state.delete(key);
        actions.push({ type: 'resolve', rule, reading: r });
      }
    }
  }
  return actions;
}

test('the same actions as walking every reading through every rule, for any batch, rules and firing streams (property)', () => {
  const devices = ['d1', 'd2', 'oven-1'];
  const metrics = ['temperature', 'humidity', 'voltage', 'pressure'];
  const arbReading = fc
    .record({
      device: fc.constantFrom(...devices),
      metric: fc.constantFrom(...metrics),
      value: fc.integer({ min: -40, max: 120 }),
      second: fc.integer({ min: 0, max: 59 }),
    })
    .map((r) => reading(r.metric, r.value, r.second, r.device));
  const arbOwnRule = fc.record({
    metric: fc.constantFrom(...metrics),
    kind: fc.constantFrom('max' as const, 'min' as const),
    threshold: fc.integer({ min: -10, max: 100 }),
    hysteresis: fc.integer({ min: 0, max: 5 }),
    device: fc.constantFrom(...devices),
  });
  const arbFiring = fc.array(
    fc.tuple(fc.constantFrom(...devices), fc.constantFrom(...metrics), fc.constantFrom('max', 'min', 'outlier')),
    { maxLength: 4 },
  );
  fc.assert(
    fc.property(
      fc.array(arbReading, { maxLength: 60 }),
      fc.array(arbOwnRule, { maxLength: 3 }),
      arbFiring,
      (rs, own, f) => {
        const rules = [...DEFAULT_RULES, ...own];
        const firing = new Set(f.map(([d, m, k]) => alertKey(d, m, k)));
        assert.deepEqual(evaluateRules(rs, rules, firing), walkEveryReading(rs, rules, firing));
      },
    ),
    { numRuns: 500 },
  );
});
