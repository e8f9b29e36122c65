import type pg from 'pg';
import type { Reading } from '@telemetryhub/common';

export const ROLLUP_TABLES = { '1m': 'rollups_1m', '1h': 'rollups_1h' } as const;
export type Granularity = keyof typeof ROLLUP_TABLES;
const BUCKET_MS: Record<Granularity, number> = { '1m': 60_000, '1h': 3_600_000 };

interface Partial {
  device: string;
  metric: string;
  bucket: string;
  count: number;
  sum: number;
  min: number;
  max: number;
  /** Sum of squared deviations from the bucket's mean (Welford): variance = m2 / (count - 1). */
  m2: number;
}

interface Bucket extends Omit<Partial, 'bucket'> {
  bucketMs: number;
  mean: number;
}

/**
 * Pre-aggregates readings per (device, metric, bucket) in memory: one upsert row per bucket, not per reading.
 * `eventMs` (each reading's event time in ms, in order) may be passed by a caller that already has it.
 */
export function aggregate(
  readings: readonly Reading[],
  granularity: Granularity,
  eventMs: readonly number[] = readings.map((r) => Date.parse(r.event_time)),
): Partial[] {
  const size = BUCKET_MS[granularity];
  const out = new Map<string, Bucket>();
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i]!;
    const bucketMs = Math.floor(eventMs[i]! / size) * size;
    const key = `${r.device_id}\u0000${r.metric}\u0000${bucketMs}`;
    const p = out.get(key);
    if (p) {
      p.count++;
      p.sum += r.value;
      if (r.value < p.min) p.min = r.value;
      if (r.value > p.max) p.max = r.value;
      const delta = r.value - p.mean;
      p.mean += delta / p.count;
      p.m2 += delta * (r.value - p.mean);
    } else {
      out.set(key, {
        device: r.device_id,
        metric: r.metric,
        bucketMs,
        count: 1,
        sum: r.value,
        min: r.value,
        max: r.value,
        mean: r.value,
        m2: 0,
      });
    }
  }
  // Sorted by (device, metric, bucket), so that concurrent folds lock buckets in the same order. A bucket's time
  // is formatted once per bucket, not once per reading.
  return [...out.values()].sort(byDeviceMetricBucket).map(({ bucketMs, mean: _mean, ...p }) => ({
    ...p,
    bucket: new Date(bucketMs).toISOString(),
  }));
}

function byDeviceMetricBucket(a: Bucket, b: Bucket): number {
  if (a.device !== b.device) return a.device < b.device ? -1 : 1;
  if (a.metric !== b.metric) return a.metric < b.metric ? -1 : 1;
  return a.bucketMs - b.bucketMs;
}

/**
 * Folds readings into the 1-minute and 1-hour rollups by event time. Count, sum, min and max add up; `m2` merges
 * by the pairwise update (m2 = m2a + m2b + δ²·na·nb/(na+nb), δ the difference of the two means), so a bucket's
 * variance is exact whatever the order and grouping of its readings. Call it only with readings the raw insert
 * really added, in the same transaction: then each event counts exactly once, whatever the retries. Rows come
 * sorted from aggregate(), so concurrent folds lock buckets in the same order (no deadlock between replicas).
 */
export async function foldRollups(client: pg.PoolClient, readings: readonly Reading[]): Promise<number> {
  let rows = 0;
  const eventMs = readings.map((r) => Date.parse(r.event_time));
  for (const granularity of Object.keys(ROLLUP_TABLES) as Granularity[]) {
    const parts = aggregate(readings, granularity, eventMs);
    if (!parts.length) continue;
    const table = ROLLUP_TABLES[granularity];
    await client.query(
      `INSERT INTO ${table} AS r (device_id, metric, bucket, count, sum, min, max, m2)
       SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::int8[], $5::float8[], $6::float8[],
                            $7::float8[], $8::float8[])
       ON CONFLICT (device_id, metric, bucket) DO UPDATE
         SET count = r.count + EXCLUDED.count, sum = r.sum + EXCLUDED.sum,
             min = LEAST(r.min, EXCLUDED.min), max = GREATEST(r.max, EXCLUDED.max),
             m2 = r.m2 + EXCLUDED.m2
                  + (EXCLUDED.sum / EXCLUDED.count - r.sum / r.count) ^ 2
                    * r.count * EXCLUDED.count / (r.count + EXCLUDED.count)`,
      [
        parts.map((p) => p.device),
        parts.map((p) => p.metric),
        parts.map((p) => p.bucket),
        parts.map((p) => p.count),
        parts.map((p) => p.sum),
        parts.map((p) => p.min),
        parts.map((p) => p.max),
        parts.map((p) => p.m2),
      ],
    );
    rows += parts.length;
  }
  return rows;
}
