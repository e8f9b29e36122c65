import type { Reading } from '@telemetryhub/common';

/** Statistics of one metric over the readings of one task (a batch), as `telemetry.analyze` stores them. */
export interface MetricStatistics {
  metric: string;
  readings: number;
  /** Distinct devices that sent readings of this metric in the batch. */
  devices: number;
  min: number;
  max: number;
  mean: number;
  /** Sample standard deviation; null for a single reading. */
  stddev: number | null;
  /** Earliest and latest event time (ISO-8601, UTC). */
  first_event_time: string;
  last_event_time: string;
}

/**
 * Per-metric statistics of a batch, in one pass (Welford's update: stable for values with a large mean and a small
 * spread). Metrics in order of first appearance. Pure CPU work: it runs in the decode worker threads.
 */
export function batchStatistics(readings: readonly Reading[]): MetricStatistics[] {
  const acc = new Map<
    string,
    { n: number; mean: number; m2: number; min: number; max: number; first: string; last: string; devices: Set<string> }
  >();
  for (const r of readings) {
    const a = acc.get(r.metric);
    if (!a) {
      acc.set(r.metric, {
        n: 1,
        mean: r.value,
        m2: 0,
        min: r.value,
        max: r.value,
        first: r.event_time,
        last: r.event_time,
        devices: new Set([r.device_id]),
      });
      continue;
    }
    a.n += 1;
    const delta = r.value - a.mean;
    a.mean += delta / a.n;
    a.m2 += delta * (r.value - a.mean);
    if (r.value < a.min) a.min = r.value;
    if (r.value > a.max) a.max = r.value;
    // Canonical ISO-8601 instants (what upcasting produces) order as text.
    if (r.event_time < a.first) a.first = r.event_time;
    if (r.event_time > a.last) a.last = r.event_time;
    a.devices.add(r.device_id);
  }
  return [...acc].map(([metric, a]) => ({
    metric,
    readings: a.n,
    devices: a.devices.size,
    min: a.min,
    max: a.max,
    mean: a.mean,
    stddev: a.n > 1 ? Math.sqrt(a.m2 / (a.n - 1)) : null,
    first_event_time: a.first,
    last_event_time: a.last,
  }));
}
