import { MinuteBuckets } from '../store/rollup-buckets.js';
import { DevicesSeen } from '../devices/devices-seen.js';
import { OutlierInputs } from '../outliers/outlier-inputs.js';
import { LatestValues } from '../store/latest-values.js';
import { SeriesIndex } from '../domain/series-index.js';
import { FOLD_STEP, type FoldSettings, type FoldWork } from './fold-work.js';

/**
 * What a fold writes, gathered from the batches it folds as each is accepted: the rollups' minute buckets, each
 * device's span and newest labels, the outlier detector's inputs, and (with the latest-value cache on) each
 * series' newest reading. Memory follows the series (rollups, devices, latest values) — the readings themselves
 * are not kept — except the outlier inputs, a value, time and id a reading. So a fold can wait for many readings
 * of each series, and then writes each series' rows once.
 */
export class FoldAggregate {
  readonly minutes = new MinuteBuckets();
  readonly devices = new DevicesSeen();
  readonly outliers: OutlierInputs;
  /** Each series' newest reading, for the latest-value cache; absent when there is no cache to write. */
  readonly latest: LatestValues | undefined;
  /** Readings added (each counted once, whatever its steps). */
  readings = 0;

  /** Whether the outlier detector is on (off, readings with that step are only rolled up and counted). */
  private readonly withOutliers: boolean;
  /** The numbers of the series, shared by the outlier inputs and the latest values. */
  private readonly series: SeriesIndex;

  /**
   * `latest`: gather each series' newest reading for the cache; `series`: the index its per-series columns are
   * numbered by (kept across folds by their owner; by default one of its own).
   */
  constructor(settings: FoldSettings, opts: { latest?: boolean; series?: SeriesIndex } = {}) {
    this.withOutliers = settings.outliers !== undefined;
    this.series = opts.series ?? new SeriesIndex();
    this.outliers = new OutlierInputs(this.series);
    this.latest = opts.latest ? new LatestValues(this.series) : undefined;
  }

  static of(work: FoldWork, settings: FoldSettings): FoldAggregate {
    const a = new FoldAggregate(settings);
    a.add(work);
    return a;
  }

  /**
   * Adds stored readings, each to what its fold steps ask for (every reading to the latest values), stored by a
   * transaction that committed at `storedMs`.
   */
  add(work: FoldWork, storedMs = Date.now()): void {
    const latest = this.latest;
    const storedAt = latest ? new Date(storedMs).toISOString() : '';
    const { readings, ms, steps } = work;
    const outliers = this.withOutliers ? this.outliers : undefined;
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i]!;
      const step = steps[i]!;
      if (step & FOLD_STEP.rollup) this.minutes.add(r.device_id, r.metric, ms[i]!, r.value);
      if (step & FOLD_STEP.devices) this.devices.add(r, ms[i]!);
      const toOutliers = outliers !== undefined && (step & FOLD_STEP.outliers) !== 0;
      if (!toOutliers && !latest) continue;
      // The series' number, looked up once for both.
      const slot = this.series.slot(r.device_id, r.metric);
      if (toOutliers) outliers.addAt(slot, ms[i]!, r.value, r.event_id);
      latest?.addAt(slot, r, ms[i]!, storedAt);
    }
    this.readings += readings.length;
  }

  /**
   * The rows a fold of this writes per table, about: the most of its minute buckets and its outlier series (hour
   * buckets and devices are fewer). A fold's cost grows with them, not with the readings.
   */
  get rows(): number {
    return Math.max(this.minutes.size, this.outliers.seriesHeld);
  }

  /** Takes in `later`'s readings, added after these (`later` is not to be used after). */
  absorb(later: FoldAggregate): void {
    this.minutes.absorb(later.minutes);
    this.devices.absorb(later.devices);
    this.outliers.absorb(later.outliers);
    if (this.latest && later.latest) this.latest.absorb(later.latest);
    this.readings += later.readings;
  }
}
