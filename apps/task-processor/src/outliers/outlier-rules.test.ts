import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { seededRandom } from '@telemetryhub/service-kit';
import { type Reading } from '@telemetryhub/schemas';
import { alertKey, type AlertAction } from '../alerts/alert-rules.js';
import { OutlierInputs } from './outlier-inputs.js';
import {
  EwmaColumns,
  evaluateOutliers as evaluate,
  foldEwma,
  type EwmaState,
  type OutlierConfig,
} from './outlier-rules.js';

/**
 * evaluateOutliers over `readings`, with the statistics kept between calls in `states` (by device and metric), as
 * the outlier-state table keeps them between folds.
 */
function evaluateOutliers(
  readings: readonly Reading[],
  states: Map<string, EwmaState>,
  firing: ReadonlySet<string>,
  cfg: OutlierConfig,
): AlertAction[] {
  const inputs = OutlierInputs.of(readings);
  const held = [...inputs.series()];
  const columns = new EwmaColumns(held.length);
  const keyOf = (i: number) => `${held[i]!.device}/${held[i]!.metric}`;
  held.forEach((_, i) => {
    const s = states.get(keyOf(i));
    if (s) columns.set(i, s);
  });
  const actions = evaluate(inputs, held, columns, firing, cfg);
  held.forEach((_, i) => states.set(keyOf(i), columns.get(i)));
  return actions;
}

const CFG: OutlierConfig = { z: 4, resolveZ: 2, alpha: 0.05, minSamples: 30 };
const T0 = Date.parse('2026-01-27T12:00:00.000Z');

/** Readings of one device and metric, one per second, with these values. */
function series(values: readonly number[], device = 'd-1'): Reading[] {
  return values.map((value, i) => ({
    event_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    device_id: device,
    metric: 'temperature',
    event_time: new Date(T0 + i * 1000).toISOString(),
    value,
    unit: 'C',
    site: null,
    region: null,
    firmware: null,
    schema_version: 3,
    sequence_id: i,
  }));
}

/** Noise around 20 with a standard deviation of about 0.5 (a sum of uniforms), reproducible. */
function noise(n: number, seed = 7): number[] {
  const rnd = seededRandom(seed);
  return Array.from({ length: n }, () => 20 + (rnd() + rnd() + rnd() - 1.5));
}

/** Each action as `type@n`, n the reading's place in its series (the last digits of its event id). */
const summary = (actions: readonly AlertAction[]) =>
  actions.map((a) => `${a.type}@${Number(a.reading.event_id.slice(-12))}`);

test('the running statistics follow the textbook exponentially weighted recurrences', () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 200 }),
      fc.double({ min: 0.001, max: 1, noNaN: true }),
      (xs, alpha) => {
        const s: EwmaState = { samples: 0, mean: 0, variance: 0 };
        let mean = xs[0]!;
        let variance = 0;
        xs.forEach((x, i) => {
          foldEwma(s, x, alpha);
          if (i > 0) {
            variance = (1 - alpha) * (variance + alpha * (x - mean) ** 2);
            mean = (1 - alpha) * mean + alpha * x;
          }
        });
        assert.equal(s.samples, xs.length);
        const scale = Math.max(1, ...xs.map(Math.abs));
        assert.ok(Math.abs(s.mean - mean) <= 1e-9 * scale, `mean ${s.mean} vs ${mean}`);
        assert.ok(Math.abs(s.variance - variance) <= 1e-9 * scale * scale, `variance ${s.variance} vs ${variance}`);
        assert.ok(s.variance >= 0);
      },
    ),
  );
});

test('a spike fires one outlier alert, no repeat while it lasts, one resolve once the signal is back', () => {
  const values = [...noise(100), 40, 41, 39, ...noise(20, 9)];
  const actions = evaluateOutliers(series(values), new Map(), new Set(), CFG);
  assert.deepEqual(summary(actions), ['fire@100', 'resolve@103']);
  assert.deepEqual(actions[0]!.rule, { metric: 'temperature', kind: 'outlier', threshold: 4 });
});

test('nothing is judged before minSamples readings, nor a constant signal; ordinary noise never fires', () => {
  assert.deepEqual(evaluateOutliers(series([...noise(20), 90]), new Map(), new Set(), CFG), [], 'warming up');
  assert.deepEqual(evaluateOutliers(series([...Array(50).fill(5), 6]), new Map(), new Set(), CFG), [], 'constant');
  assert.deepEqual(evaluateOutliers(series(noise(2000, 3)), new Map(), new Set(), CFG), [], 'noise within ±1.5');
});

test('devices are judged apart, and readings are taken in event-time order whatever the arrival order', () => {
  const a = series([...noise(60), 45], 'a');
  const b = series(noise(61, 5), 'b');
  const shuffled = [...a, ...b].reverse();
  const actions = evaluateOutliers(shuffled, new Map(), new Set(), CFG);
  assert.deepEqual(
    actions.map((x) => `${x.reading.device_id}:${x.type}@${Number(x.reading.event_id.slice(-12))}`),
    ['a:fire@60'],
  );
});

test('split into batches anywhere, the same readings give the same alerts and the same state (property)', () => {
  const values = [...noise(80), 45, 44, ...noise(30, 11), -10, ...noise(30, 12)];
  const readings = series(values);
  const whole = new Map<string, EwmaState>();
  const expected = summary(evaluateOutliers(readings, whole, new Set(), CFG));
  assert.ok(expected.length >= 3, `the series should alert: ${expected.join(' ')}`);
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 1, max: readings.length - 1 }), { maxLength: 10 }), (cuts) => {
      const bounds = [0, ...cuts.sort((x, y) => x - y), readings.length];
      const states = new Map<string, EwmaState>();
      const firing = new Set<string>();
      const got: AlertAction[] = [];
      for (let i = 0; i + 1 < bounds.length; i++) {
        const actions = evaluateOutliers(readings.slice(bounds[i], bounds[i + 1]), states, firing, CFG);
        for (const a of actions) {
          const key = alertKey(a.reading.device_id, a.reading.metric, 'outlier');
          if (a.type === 'fire') firing.add(key);
          else firing.delete(key);
        }
        got.push(...actions);
      }
      assert.deepEqual(summary(got), expected);
      assert.deepEqual(states, whole);
    }),
    { numRuns: 200 },
  );
});
