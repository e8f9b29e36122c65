import type { Reading } from '@telemetryhub/schemas';

/** One series' readings for the outlier detector, in the order they were added. */
export interface SeriesInputs {
  device: string;
  metric: string;
  values: number[];
  ms: number[];
  eventIds: string[];
}

/**
 * What the outlier detector needs of readings gathered over one or more batches (a fold's, held between folds):
 * per device and metric, each reading's value, event time and event id — about 80 bytes a reading, where the
 * reading itself (a dozen fields, each string its own) holds several hundred. The detector walks each series in
 * event-time order, so only the order within a series is kept.
 */
export class OutlierInputs {
  private readonly byDevice = new Map<string, Map<string, SeriesInputs>>();
  private count = 0;

  static of(readings: readonly Reading[], eventMs?: readonly number[]): OutlierInputs {
    const inputs = new OutlierInputs();
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i]!;
      inputs.add(r.device_id, r.metric, eventMs ? eventMs[i]! : Date.parse(r.event_time), r.value, r.event_id);
    }
    return inputs;
  }

  add(device: string, metric: string, ms: number, value: number, eventId: string): void {
    let byMetric = this.byDevice.get(device);
    if (!byMetric) this.byDevice.set(device, (byMetric = new Map()));
    let s = byMetric.get(metric);
    if (!s) byMetric.set(metric, (s = { device, metric, values: [], ms: [], eventIds: [] }));
    s.values.push(value);
    s.ms.push(ms);
    s.eventIds.push(eventId);
    this.count++;
  }

  /** Takes in `other`'s readings, added after these (`other` is not to be used after). */
  absorb(other: OutlierInputs): void {
    for (const [device, theirs] of other.byDevice) {
      const mine = this.byDevice.get(device);
      if (!mine) {
        this.byDevice.set(device, theirs);
        continue;
      }
      for (const [metric, s] of theirs) {
        const t = mine.get(metric);
        if (!t) mine.set(metric, s);
        else
          for (let i = 0; i < s.values.length; i++) {
            t.values.push(s.values[i]!);
            t.ms.push(s.ms[i]!);
            t.eventIds.push(s.eventIds[i]!);
          }
      }
    }
    this.count += other.count;
  }

  /** Readings held. */
  get size(): number {
    return this.count;
  }

  /** The devices with readings. */
  devices(): string[] {
    return [...this.byDevice.keys()];
  }

  series(): IterableIterator<SeriesInputs> {
    return seriesOf(this.byDevice);
  }
}

function* seriesOf(byDevice: Map<string, Map<string, SeriesInputs>>): IterableIterator<SeriesInputs> {
  for (const byMetric of byDevice.values()) yield* byMetric.values();
}

/** The positions of a series' readings in event-time order; equal times keep the order they were added in. */
export function eventTimeOrder(s: SeriesInputs): number[] {
  const order = s.ms.map((_, i) => i);
  let sorted = true;
  for (let i = 1; i < s.ms.length && sorted; i++) sorted = s.ms[i - 1]! <= s.ms[i]!;
  return sorted ? order : order.sort((a, b) => s.ms[a]! - s.ms[b]! || a - b);
}
