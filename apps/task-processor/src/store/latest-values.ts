import type { Reading } from '@telemetryhub/schemas';

/** The newest reading of one device and metric, as the latest-value cache keeps it. */
export interface LatestValue {
  /** Event time in ms (what "newest" compares). */
  ms: number;
  event_time: string;
  value: number;
  unit: string | null;
  event_id: string;
  /** When its batch committed (ISO 8601, as the cache serves it: made once per batch, not per series). */
  stored_at: string;
}

/**
 * The newest reading of each device and metric among readings gathered over one or more batches (a fold's, held
 * between folds): one entry per series, however many readings went in — what the latest-value cache is sent, so
 * a series reporting ten times between folds costs the cache one write, not ten. On equal event times the reading
 * added first stays, as in the cache itself (only a strictly newer reading replaces one).
 */
export class LatestValues {
  private readonly byDevice = new Map<string, Map<string, LatestValue>>();
  private count = 0;

  static of(readings: readonly Reading[], storedAt = new Date().toISOString()): LatestValues {
    const values = new LatestValues();
    for (const r of readings) values.add(r, Date.parse(r.event_time), storedAt);
    return values;
  }

  add(
    r: Pick<Reading, 'device_id' | 'metric' | 'event_time' | 'value' | 'unit' | 'event_id'>,
    ms: number,
    storedAt: string,
  ): void {
    let metrics = this.byDevice.get(r.device_id);
    if (!metrics) {
      metrics = new Map();
      this.byDevice.set(r.device_id, metrics);
    }
    const seen = metrics.get(r.metric);
    if (seen && seen.ms >= ms) return;
    if (!seen) this.count++;
    metrics.set(r.metric, {
      ms,
      event_time: r.event_time,
      value: r.value,
      unit: r.unit,
      event_id: r.event_id,
      stored_at: storedAt,
    });
  }

  /** Takes in `later`'s values, gathered after these (`later` is not to be used after). */
  absorb(later: LatestValues): void {
    for (const [device, metrics] of later.byDevice) {
      const mine = this.byDevice.get(device);
      if (!mine) {
        this.byDevice.set(device, metrics);
        this.count += metrics.size;
        continue;
      }
      for (const [metric, v] of metrics) {
        const seen = mine.get(metric);
        if (seen && seen.ms >= v.ms) continue;
        if (!seen) this.count++;
        mine.set(metric, v);
      }
    }
  }

  /** Series held. */
  get size(): number {
    return this.count;
  }

  /** Each device with its metrics' newest values. */
  devices(): IterableIterator<[string, ReadonlyMap<string, LatestValue>]> {
    return this.byDevice.entries();
  }
}
