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
}

/** Pre-aggregates readings per (device, metric, bucket) in memory: one upsert row per bucket, not per reading. */
export function aggregate(readings: readonly Reading[], granularity: Granularity): Partial[] {
  const size = BUCKET_MS[granularity];
  const out = new Map<string, Partial>();
  for (const r of readings) {
    const bucket = new Date(Math.floor(Date.parse(r.event_time) / size) * size).toISOString();
    const key = `${r.device_id}\u0000${r.metric}\u0000${bucket}`;
    const p = out.get(key);
    if (p) {
      p.count++;
      p.sum += r.value;
      p.min = Math.min(p.min, r.value);
      p.max = Math.max(p.max, r.value);
    } else {
      out.set(key, {
        device: r.device_id,
        metric: r.metric,
        bucket,
        count: 1,
        sum: r.value,
        min: r.value,
        max: r.value,
      });
    }
  }
  // Sorted by (device, metric, bucket) — NUL-separated keys sort as the tuple does — so that concurrent folds
  // lock buckets in the same order.
  return [...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, p]) => p);
}

/**
 * Folds readings into the 1-minute and 1-hour rollups by event time. Call it only with readings the raw insert
 * really added, in the same transaction: then each event counts exactly once, whatever the retries. Rows come
 * sorted from aggregate(), so concurrent folds lock buckets in the same order (no deadlock between replicas).
 */
export async function foldRollups(client: pg.PoolClient, readings: readonly Reading[]): Promise<number> {
  let rows = 0;
  for (const granularity of Object.keys(ROLLUP_TABLES) as Granularity[]) {
    const parts = aggregate(readings, granularity);
    if (!parts.length) continue;
    const table = ROLLUP_TABLES[granularity];
    await client.query(
      `INSERT INTO ${table} AS r (device_id, metric, bucket, count, sum, min, max)
       SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::int8[], $5::float8[], $6::float8[], $7::float8[])
       ON CONFLICT (device_id, metric, bucket) DO UPDATE
         SET count = r.count + EXCLUDED.count, sum = r.sum + EXCLUDED.sum,
             min = LEAST(r.min, EXCLUDED.min), max = GREATEST(r.max, EXCLUDED.max)`,
      [
        parts.map((p) => p.device),
        parts.map((p) => p.metric),
        parts.map((p) => p.bucket),
        parts.map((p) => p.count),
        parts.map((p) => p.sum),
        parts.map((p) => p.min),
        parts.map((p) => p.max),
      ],
    );
    rows += parts.length;
  }
  return rows;
}
