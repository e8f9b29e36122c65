/**
 * Numbers each series (device and metric) the processor meets, once, so that what is gathered per series between
 * folds can live in arrays indexed by that number instead of in objects and maps made anew for every fold — at
 * 50,000 series a fold lasts seconds, and what it made outlived many scavenges, each copying it
 * (docs/benchmarks.md, "The collector"). A fleet's series are few and long-lived; the index holds up to `capacity`
 * of them, and its owner starts a new one once it is `full`, so that a fleet churning through devices cannot grow
 * it without bound.
 */
export class SeriesIndex {
  private readonly byDevice = new Map<string, Map<string, number>>();
  private readonly deviceOf: string[] = [];
  private readonly metricOf: string[] = [];

  constructor(readonly capacity = DEFAULT_SERIES_CAPACITY) {}

  /** The series' number: the one it was given, or the next (numbers run from 0 without gaps). */
  slot(device: string, metric: string): number {
    let metrics = this.byDevice.get(device);
    if (!metrics) this.byDevice.set(device, (metrics = new Map()));
    let n = metrics.get(metric);
    if (n === undefined) {
      n = this.deviceOf.length;
      metrics.set(metric, n);
      this.deviceOf.push(device);
      this.metricOf.push(metric);
    }
    return n;
  }

  /**
   * The number here of the series numbered `slot` in `other`: the same number when `other` is this index, else
   * found by its device and metric (columns gathered on an index since replaced).
   */
  slotOf(other: SeriesIndex, slot: number): number {
    return other === this ? slot : this.slot(other.device(slot), other.metric(slot));
  }

  device(slot: number): string {
    return this.deviceOf[slot]!;
  }

  metric(slot: number): string {
    return this.metricOf[slot]!;
  }

  /** Series numbered so far. */
  get size(): number {
    return this.deviceOf.length;
  }

  /** Whether it holds `capacity` series or more (its owner should start a new index). */
  get full(): boolean {
    return this.size >= this.capacity;
  }
}

/** Series an index holds before its owner starts a new one: about 100 bytes each, 25 MB at most. */
export const DEFAULT_SERIES_CAPACITY = 250_000;
