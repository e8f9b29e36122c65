/**
 * A set of series (device, metric) in nested maps: looked up by a reading's own two strings, no key string built
 * per reading.
 */
export class SeriesSet {
  private readonly byDevice = new Map<string, Set<string>>();
  private count = 0;

  /** Series held. */
  get size(): number {
    return this.count;
  }

  add(device: string, metric: string): void {
    let metrics = this.byDevice.get(device);
    if (!metrics) this.byDevice.set(device, (metrics = new Set()));
    if (!metrics.has(metric)) {
      metrics.add(metric);
      this.count++;
    }
  }

  has(device: string, metric: string): boolean {
    return this.byDevice.get(device)?.has(metric) ?? false;
  }

  clear(): void {
    this.byDevice.clear();
    this.count = 0;
  }
}
