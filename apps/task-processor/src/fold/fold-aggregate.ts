import { MinuteBuckets } from '../store/rollup-buckets.js';
import { DevicesSeen } from '../devices/devices-seen.js';
import { OutlierInputs } from '../outliers/outlier-inputs.js';
import { FOLD_STEP, type FoldSettings, type FoldWork } from './fold-work.js';

/**
 * What a fold writes, gathered from the batches it folds as each is accepted: the rollups' minute buckets, each
 * device's span and newest labels, and the outlier detector's inputs. Memory follows the series (rollups,
 * devices) — the readings themselves are not kept — except the outlier inputs, a value, time and id a reading.
 * So a fold can wait for many readings of each series, and then writes each series' rows once.
 */
export class FoldAggregate {
  readonly minutes = new MinuteBuckets();
  readonly devices = new DevicesSeen();
  readonly outliers = new OutlierInputs();
  /** Readings added (each counted once, whatever its steps). */
  readings = 0;

  /** Whether the outlier detector is on (off, readings with that step are only rolled up and counted). */
  private readonly withOutliers: boolean;

  constructor(settings: FoldSettings) {
    this.withOutliers = settings.outliers !== undefined;
  }

  static of(work: FoldWork, settings: FoldSettings): FoldAggregate {
    const a = new FoldAggregate(settings);
    a.add(work);
    return a;
  }

  /** Adds stored readings, each to what its fold steps ask for. */
  add(work: FoldWork): void {
    const { readings, ms, steps } = work;
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i]!;
      const step = steps[i]!;
      if (step & FOLD_STEP.rollup) this.minutes.add(r.device_id, r.metric, ms[i]!, r.value);
      if (step & FOLD_STEP.devices) this.devices.add(r, ms[i]!);
      if (step & FOLD_STEP.outliers && this.withOutliers) {
        this.outliers.add(r.device_id, r.metric, ms[i]!, r.value, r.event_id);
      }
    }
    this.readings += readings.length;
  }

  /** Takes in `later`'s readings, added after these (`later` is not to be used after). */
  absorb(later: FoldAggregate): void {
    this.minutes.absorb(later.minutes);
    this.devices.absorb(later.devices);
    this.outliers.absorb(later.outliers);
    this.readings += later.readings;
  }
}
