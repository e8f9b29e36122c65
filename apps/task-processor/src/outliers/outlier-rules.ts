import { alertKey, type AlertAction } from '../alerts/alert-rules.js';
import type { OutlierInputs, SeriesInputs } from './outlier-inputs.js';

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

/**
 * The running statistics of a fold's series in columns, by the series' position in the fold (OutlierInputs.series()
 * order): at a large fleet a fold holds tens of thousands of series for seconds, and an object per series outlived
 * many scavenges (docs/benchmarks.md, "The collector").
 */
export class EwmaColumns {
  readonly samples: Float64Array;
  readonly mean: Float64Array;
  readonly variance: Float64Array;

  /** `n` series, each with no samples yet. */
  constructor(readonly n: number) {
    this.samples = new Float64Array(n);
    this.mean = new Float64Array(n);
    this.variance = new Float64Array(n);
  }

  get(i: number): EwmaState {
    return { samples: this.samples[i]!, mean: this.mean[i]!, variance: this.variance[i]! };
  }

  set(i: number, s: EwmaState): void {
    this.samples[i] = s.samples;
    this.mean[i] = s.mean;
    this.variance[i] = s.variance;
  }
}

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
 * Judges each series' readings in event-time order against its running statistics *before* folding each one in,
 * then folds it (so the state moves with the signal). Returns the alert changes: one `fire` when a stream starts
 * deviating (none while it keeps deviating), one `resolve` once a reading is back within `resolveZ` — a series'
 * changes in its order, series after series. A stream with no variance yet (a constant signal) is not judged: any
 * change would be infinitely many deviations. `states` holds series[i]'s statistics at i and is updated in place;
 * the caller loads and stores them, in its transaction.
 */
export function evaluateOutliers(
  inputs: OutlierInputs,
  series: readonly SeriesInputs[],
  states: EwmaColumns,
  firing: ReadonlySet<string>,
  cfg: OutlierConfig,
): AlertAction[] {
  const actions: AlertAction[] = [];
  for (let k = 0; k < series.length; k++) {
    const s = series[k]!;
    const state = states.get(k); // short-lived: dies young, unlike the columns
    const alert = alertKey(s.device, s.metric, 'outlier');
    let open = firing.has(alert);
    for (const i of inputs.inEventTimeOrder(s)) {
      const value = inputs.value(i);
      if (state.samples >= cfg.minSamples && state.variance > 0) {
        const z = Math.abs(value - state.mean) / Math.sqrt(state.variance);
        if ((!open && z > cfg.z) || (open && z <= cfg.resolveZ)) {
          actions.push({
            type: open ? 'resolve' : 'fire',
            rule: { metric: s.metric, kind: 'outlier', threshold: cfg.z },
            reading: {
              device_id: s.device,
              metric: s.metric,
              value,
              event_id: inputs.eventId(i),
              event_time: new Date(inputs.timeMs(i)).toISOString(),
            },
          });
          open = !open;
        }
      }
      foldEwma(state, value, cfg.alpha);
    }
    states.set(k, state);
  }
  return actions;
}
