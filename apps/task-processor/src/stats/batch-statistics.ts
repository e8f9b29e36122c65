import type { Reading } from '@telemetryhub/schemas';
import { addValue, momentsOf, sampleStddev, type Moments } from '../domain/moments.js';
import type { MetricStatistics } from '../domain/task.js';

/**
 * Per-metric statistics of a batch, in one pass (the moments by Welford's update). Metrics in order of first
 * appearance. Pure CPU work: it runs in the decode worker threads.
 */
export function batchStatistics(readings: readonly Reading[]): MetricStatistics[] {
  const acc = new Map<string, Moments & { first: string; last: string; devices: Set<string> }>();
  for (const r of readings) {
    const a = acc.get(r.metric);
    if (!a) {
      acc.set(r.metric, {
        ...momentsOf(r.value),
        first: r.event_time,
        last: r.event_time,
        devices: new Set([r.device_id]),
      });
      continue;
    }
    addValue(a, r.value);
    // Canonical ISO-8601 instants (what upcasting produces) order as text.
    if (r.event_time < a.first) a.first = r.event_time;
    if (r.event_time > a.last) a.last = r.event_time;
    a.devices.add(r.device_id);
  }
  return [...acc].map(([metric, a]) => ({
    metric,
    readings: a.count,
    devices: a.devices.size,
    min: a.min,
    max: a.max,
    mean: a.mean,
    stddev: sampleStddev(a.count, a.m2),
    first_event_time: a.first,
    last_event_time: a.last,
  }));
}
