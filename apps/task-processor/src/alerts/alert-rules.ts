import type { Reading } from '@telemetryhub/schemas';
import { SeriesSet } from '../domain/series-set.js';

/**
 * A threshold rule: fire when a reading goes above `max` (or below `min`), resolve when it comes back past the
 * threshold by `hysteresis` (so a value hovering at the threshold does not flap). With `device`, the rule is that
 * device's own: it replaces, for that device, the rule of every device with the same metric and kind.
 */
export interface ThresholdRule {
  metric: string;
  kind: 'max' | 'min';
  threshold: number;
  hysteresis: number;
  device?: string;
}

/** The original design's defaults: temperature > 80 °C or < −20 °C, humidity > 95 %, voltage < 2.8 V, current > 2 A. */
export const DEFAULT_RULES: readonly ThresholdRule[] = [
  { metric: 'temperature', kind: 'max', threshold: 80, hysteresis: 2 },
  { metric: 'temperature', kind: 'min', threshold: -20, hysteresis: 2 },
  { metric: 'humidity', kind: 'max', threshold: 95, hysteresis: 2 },
  { metric: 'voltage', kind: 'min', threshold: 2.8, hysteresis: 0.1 },
  { metric: 'current', kind: 'max', threshold: 2.0, hysteresis: 0.1 },
];

/** Event-time order (canonical ISO instants sort as text). */
const byEventTime = (a: Reading, b: Reading) =>
  a.event_time < b.event_time ? -1 : a.event_time > b.event_time ? 1 : 0;

/** Identifies one alert stream: a rule on one device. */
export const alertKey = (device: string, metric: string, kind: string): string =>
  `${device}\u0000${metric}\u0000${kind}`;

/** What an alert row records of the rule that fired it: a threshold rule, or the outlier detector (its z limit). */
export interface AlertRuleRef {
  metric: string;
  kind: 'max' | 'min' | 'outlier';
  threshold: number;
}

/** What an alert keeps of the reading that changed it. */
export type AlertReading = Pick<Reading, 'device_id' | 'metric' | 'value' | 'event_id' | 'event_time'>;

export interface AlertAction {
  type: 'fire' | 'resolve';
  rule: AlertRuleRef;
  reading: AlertReading;
}

function breaches(rule: ThresholdRule, value: number): boolean {
  return rule.kind === 'max' ? value > rule.threshold : value < rule.threshold;
}

function recovered(rule: ThresholdRule, value: number): boolean {
  return rule.kind === 'max' ? value <= rule.threshold - rule.hysteresis : value >= rule.threshold + rule.hysteresis;
}

/**
 * Runs the rules over readings in event-time order, starting from the alert streams already firing, and returns
 * the state changes: one `fire` when a stream starts breaching (no repeat while it keeps breaching), one
 * `resolve` when it has recovered past the hysteresis band. Pure: the caller loads and stores the state.
 *
 * Only a (device, metric) with a reading past a threshold in this batch, or with an alert already firing, can
 * change: a first pass finds those with a numeric compare per reading and rule, and only their readings are
 * sorted and walked with a stream key each. The result is the same as walking every reading (readings of other
 * series produce no action, and a stable sort keeps the chosen readings in the same relative order); a batch with
 * nothing near a threshold — nearly every batch — costs no sort and no key string.
 */
export function evaluateRules(
  readings: readonly Reading[],
  rules: readonly ThresholdRule[],
  firing: ReadonlySet<string>,
): AlertAction[] {
  const rulesFor = ruleIndex(rules);
  const candidates = new SeriesSet();
  for (const key of firing) {
    const [device, metric] = key.split('\u0000');
    candidates.add(device!, metric!);
  }
  // Index loops: this pass runs for every reading of a batch, and its for-of cost an iterator result per reading.
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i]!;
    if (candidates.has(r.device_id, r.metric)) continue;
    const ruled = rulesFor(r.device_id, r.metric);
    for (let k = 0; k < ruled.length; k++) {
      if (breaches(ruled[k]!, r.value)) {
        candidates.add(r.device_id, r.metric);
        break;
      }
    }
  }
  if (candidates.size === 0) return [];
  const state = new Set(firing);
  const actions: AlertAction[] = [];
  // A copy already: sorted in place.
  const chosen = readings.filter((r) => candidates.has(r.device_id, r.metric)).sort(byEventTime);
  for (const reading of chosen) {
    for (const rule of rulesFor(reading.device_id, reading.metric)) {
      const key = alertKey(reading.device_id, rule.metric, rule.kind);
      if (!state.has(key) && breaches(rule, reading.value)) {
        state.add(key);
        actions.push({ type: 'fire', rule, reading });
      } else if (state.has(key) && recovered(rule, reading.value)) {
        state.delete(key);
        actions.push({ type: 'resolve', rule, reading });
      }
    }
  }
  return actions;
}

/**
 * The rules that judge a device's metric: the device's own rules, and for each kind (max, min) it has none of,
 * the rule of every device. Looked up per reading, so kept in maps by device then metric (no key string per
 * lookup), and the merge per device and metric cached.
 */
function ruleIndex(rules: readonly ThresholdRule[]): (device: string, metric: string) => readonly ThresholdRule[] {
  const everyDevice = new Map<string, ThresholdRule[]>();
  const ownRules = new Map<string, Map<string, ThresholdRule[]>>();
  for (const r of rules) {
    if (r.device === undefined) {
      everyDevice.set(r.metric, [...(everyDevice.get(r.metric) ?? []), r]);
      continue;
    }
    let byMetric = ownRules.get(r.device);
    if (!byMetric) ownRules.set(r.device, (byMetric = new Map()));
    byMetric.set(r.metric, [...(byMetric.get(r.metric) ?? []), r]);
  }
  const none: readonly ThresholdRule[] = [];
  if (ownRules.size === 0) return (_device, metric) => everyDevice.get(metric) ?? none;
  const merged = new Map<string, Map<string, readonly ThresholdRule[]>>();
  return (device, metric) => {
    const byMetric = ownRules.get(device);
    if (!byMetric) return everyDevice.get(metric) ?? none;
    let cache = merged.get(device);
    if (!cache) merged.set(device, (cache = new Map()));
    let found = cache.get(metric);
    if (!found) {
      const own = byMetric.get(metric) ?? [];
      const shared = (everyDevice.get(metric) ?? []).filter((r) => !own.some((o) => o.kind === r.kind));
      found = [...own, ...shared];
      cache.set(metric, found);
    }
    return found;
  };
}
