import type { Reading } from '@telemetryhub/schemas';
import { alertKey, inEventTimeOrder, type AlertAction } from '../alerts/alert-rules.js';

/** The statistical outlier detector's settings (config: OUTLIER_*). */
export interface OutlierConfig {
  /** Fire when a reading is more than this many standard deviations from its device's running mean. */
  z: number;
  /** Resolve when a later reading is back within this many (hysteresis: below `z`). */
  resolveZ: number;
  /** Weight of each new reading in the running mean and variance (0 < alpha ≤ 1; 0.05 ≈ the last 40 readings). */
  alpha: number;
  /** Readings a device and metric need before they are judged (the running statistics settle first). */
  minSamples: number;
}

export const DEFAULT_OUTLIER_CONFIG: OutlierConfig = { z: 4, resolveZ: 2, alpha: 0.05, minSamples: 30 };

/** Exponentially weighted running statistics of one device and metric. `samples` 0 = none yet. */
export interface EwmaState {
  samples: number;
  mean: number;
  variance: number;
}

export const outlierStateKey = (device: string, metric: string): string => `${device}\u0000${metric}`;

/** Folds one value into the running mean and variance (West's incremental exponentially weighted form). */
export function foldEwma(s: EwmaState, x: number, alpha: number): void {
  if (s.samples === 0) {
    s.mean = x;
    s.variance = 0;
  } else {
    const diff = x - s.mean;
    const increment = alpha * diff;
    s.mean += increment;
    s.variance = (1 - alpha) * (s.variance + diff * increment);
  }
  s.samples++;
}

/**
 * Judges readings in event-time order against their device's running statistics *before* folding each one in,
 * then folds it (so the state moves with the signal). Returns the alert changes: one `fire` when a stream starts
 * deviating (none while it keeps deviating), one `resolve` once a reading is back within `resolveZ`. A stream
 * with no variance yet (a constant signal) is not judged: any change would be infinitely many deviations.
 * Updates `states` in place (missing keys are created); the caller loads and stores them, in its transaction.
 */
export function evaluateOutliers(
  readings: readonly Reading[],
  states: Map<string, EwmaState>,
  firing: ReadonlySet<string>,
  cfg: OutlierConfig,
): AlertAction[] {
  const open = new Set(firing);
  const actions: AlertAction[] = [];
  const rule = (metric: string) => ({ metric, kind: 'outlier' as const, threshold: cfg.z });
  for (const reading of inEventTimeOrder(readings)) {
    const key = outlierStateKey(reading.device_id, reading.metric);
    let state = states.get(key);
    if (!state) {
      state = { samples: 0, mean: 0, variance: 0 };
      states.set(key, state);
    }
    if (state.samples >= cfg.minSamples && state.variance > 0) {
      const z = Math.abs(reading.value - state.mean) / Math.sqrt(state.variance);
      const alert = alertKey(reading.device_id, reading.metric, 'outlier');
      if (!open.has(alert) && z > cfg.z) {
        open.add(alert);
        actions.push({ type: 'fire', rule: rule(reading.metric), reading });
      } else if (open.has(alert) && z <= cfg.resolveZ) {
        open.delete(alert);
        actions.push({ type: 'resolve', rule: rule(reading.metric), reading });
      }
    }
    foldEwma(state, reading.value, cfg.alpha);
  }
  return actions;
}
