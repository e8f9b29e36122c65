import type pg from 'pg';
import { STORABLE, type Reading } from '@telemetryhub/schemas';
import { addValue, mergeMoments, momentsOf, type Moments } from '../domain/moments.js';
import { numberArrayLiteral, textArrayLiteral } from './pg-array.js';

export const ROLLUP_TABLES = { '1m': 'rollups_1m', '1h': 'rollups_1h' } as const;
export type Granularity = keyof typeof ROLLUP_TABLES;
const BUCKET_MS: Record<Granularity, number> = { '1m': 60_000, '1h': 3_600_000 };

export interface Partial {
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

interface Bucket extends Moments {
  device: string;
  metric: string;
  bucketMs: number;
}

/**
 * Pre-aggregates readings per (device, metric, bucket) in memory, one upsert row per bucket, not per reading:
 * the minute buckets from the readings, the hour buckets from the minute buckets. `eventMs` (each reading's event
 * time in ms, in order) may be passed by a caller that already has it.
 */
export function rollupPartials(
  readings: readonly Reading[],
  eventMs: readonly number[] = readings.map((r) => Date.parse(r.event_time)),
): Record<Granularity, Partial[]> {
  const minutes = bucketize(readings, eventMs, BUCKET_MS['1m']);
  return { '1m': partials(minutes), '1h': partials(coarsen(minutes.values(), BUCKET_MS['1h'])) };
}

const bucketKey = (device: string, metric: string, bucketMs: number) => `${device}\u0000${metric}\u0000${bucketMs}`;

/** Readings into buckets of `size` ms: the moments of each (device, metric, bucket). */
function bucketize(readings: readonly Reading[], eventMs: readonly number[], size: number): Map<string, Bucket> {
  const out = new Map<string, Bucket>();
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i]!;
    const bucketMs = Math.floor(eventMs[i]! / size) * size;
    const key = bucketKey(r.device_id, r.metric, bucketMs);
    const p = out.get(key);
    if (p) addValue(p, r.value);
    else out.set(key, { device: r.device_id, metric: r.metric, bucketMs, ...momentsOf(r.value) });
  }
  return out;
}

/**
 * Finer buckets merged into buckets of `size` ms (a multiple of theirs) by the pairwise update, as the upsert
 * merges them in the table: the hour rollup from the minute buckets, without going over every reading again.
 */
function coarsen(fine: Iterable<Bucket>, size: number): Map<string, Bucket> {
  const out = new Map<string, Bucket>();
  for (const b of fine) {
    const bucketMs = Math.floor(b.bucketMs / size) * size;
    const key = bucketKey(b.device, b.metric, bucketMs);
    const p = out.get(key);
    if (!p) {
      out.set(key, { ...b, bucketMs });
      continue;
    }
    mergeMoments(p, b);
  }
  return out;
}

/**
 * Buckets as upsert rows, sorted by (device, metric, bucket), so that concurrent folds lock buckets in the same
 * order. A bucket's time is formatted once per bucket, not once per reading.
 */
function partials(buckets: Map<string, Bucket>): Partial[] {
  return [...buckets.values()].sort(byDeviceMetricBucket).map(({ bucketMs, mean: _mean, ...p }) => ({
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
 * sorted from rollupPartials(), so concurrent folds lock buckets in the same order (no deadlock between replicas).
 *
 * Overflow: values are inside the storable magnitude (|v| ≤ 1e100, storable.ts), so δ² stays below 4e200 and no
 * term comes near float8's limit — PostgreSQL raises an error on float8 overflow, which would fail the batch and
 * every later batch touching the bucket. A bucket whose stored mean lies outside that magnitude (written before the
 * bound existed) is not squared at all: its m2 becomes NULL, "spread unknown", as for rows older than m2.
 */
export async function foldRollups(
  client: pg.PoolClient,
  readings: readonly Reading[],
  eventMs: readonly number[] = readings.map((r) => Date.parse(r.event_time)),
): Promise<number> {
  let rows = 0;
  const byGranularity = rollupPartials(readings, eventMs);
  for (const granularity of Object.keys(ROLLUP_TABLES) as Granularity[]) {
    const parts = byGranularity[granularity];
    if (!parts.length) continue;
    const table = ROLLUP_TABLES[granularity];
    await client.query(
      `INSERT INTO ${table} AS r (device_id, metric, bucket, count, sum, min, max, m2)
       SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::int8[], $5::float8[], $6::float8[],
                            $7::float8[], $8::float8[])
       ON CONFLICT (device_id, metric, bucket) DO UPDATE
         SET count = r.count + EXCLUDED.count, sum = r.sum + EXCLUDED.sum,
             min = LEAST(r.min, EXCLUDED.min), max = GREATEST(r.max, EXCLUDED.max),
             m2 = CASE WHEN abs(r.sum / r.count) <= ${STORABLE.maxAbsValue}::float8
                       AND abs(EXCLUDED.sum / EXCLUDED.count) <= ${STORABLE.maxAbsValue}::float8
                  THEN r.m2 + EXCLUDED.m2
                       + (EXCLUDED.sum / EXCLUDED.count - r.sum / r.count) ^ 2
                         * r.count * EXCLUDED.count / (r.count + EXCLUDED.count)
                  END`,
      [
        textArrayLiteral(parts.map((p) => p.device)),
        textArrayLiteral(parts.map((p) => p.metric)),
        textArrayLiteral(parts.map((p) => p.bucket)),
        numberArrayLiteral(parts.map((p) => p.count)),
        numberArrayLiteral(parts.map((p) => p.sum)),
        numberArrayLiteral(parts.map((p) => p.min)),
        numberArrayLiteral(parts.map((p) => p.max)),
        numberArrayLiteral(parts.map((p) => p.m2)),
      ],
    );
    rows += parts.length;
  }
  return rows;
}
