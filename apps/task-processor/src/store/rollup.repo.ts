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
  /** The bucket's number: its start ÷ its size. */
  n: number;
  bucketMs: number;
}

/**
 * A series' buckets: the bucket itself while the batch gave it only one (nearly always: a series' readings of one
 * batch mostly fall in one minute and one hour), else its buckets by number. With a large fleet a batch holds a
 * bucket or two for each of tens of thousands of series, and a Map for each was most of the fold's garbage.
 * Keyed by number, not start in ms: a minute's number (below 2³⁰ until 2199) is a small integer V8 keeps unboxed,
 * where a start in ms (about 1.8·10¹²) is a heap number allocated and hashed on every lookup.
 */
type SeriesBuckets = Bucket | Map<number, Bucket>;
/** Buckets by device, then metric: looked up per reading without building a key string. */
type Buckets = Map<string, Map<string, SeriesBuckets>>;

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
  return { '1m': partials(minutes), '1h': partials(coarsen(minutes, BUCKET_MS['1h'])) };
}

/** A bucket with its own copy of `m` (one object shape for every bucket: no spread). */
function bucketOf(device: string, metric: string, n: number, size: number, m: Moments): Bucket {
  return {
    device,
    metric,
    n,
    bucketMs: n * size,
    count: m.count,
    sum: m.sum,
    min: m.min,
    max: m.max,
    mean: m.mean,
    m2: m.m2,
  };
}

/** Bucket number `n` of (device, metric) in `out`, if there is one. */
function bucketIn(out: Buckets, device: string, metric: string, n: number): Bucket | undefined {
  const series = out.get(device)?.get(metric);
  if (series === undefined) return undefined;
  if (series instanceof Map) return series.get(n);
  return series.n === n ? series : undefined;
}

/** Adds `b`, a bucket `out` does not have yet, to its series. */
function addBucket(out: Buckets, b: Bucket): void {
  let byMetric = out.get(b.device);
  if (!byMetric) out.set(b.device, (byMetric = new Map()));
  const series = byMetric.get(b.metric);
  if (series === undefined) byMetric.set(b.metric, b);
  else if (series instanceof Map) series.set(b.n, b);
  else
    byMetric.set(
      b.metric,
      new Map([
        [series.n, series],
        [b.n, b],
      ]),
    );
}

/** Readings into buckets of `size` ms: the moments of each (device, metric, bucket). */
function bucketize(readings: readonly Reading[], eventMs: readonly number[], size: number): Buckets {
  const out: Buckets = new Map();
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i]!;
    const n = Math.floor(eventMs[i]! / size);
    const b = bucketIn(out, r.device_id, r.metric, n);
    if (b) addValue(b, r.value);
    else addBucket(out, bucketOf(r.device_id, r.metric, n, size, momentsOf(r.value)));
  }
  return out;
}

/** A series' buckets in bucket order. */
function inOrder(series: SeriesBuckets): Bucket[] {
  return series instanceof Map ? [...series.values()].sort((a, b) => a.n - b.n) : [series];
}

/**
 * Finer buckets merged into buckets of `size` ms (a multiple of theirs) by the pairwise update, as the upsert
 * merges them in the table: the hour rollup from the minute buckets, without going over every reading again.
 */
function coarsen(fine: Buckets, size: number): Buckets {
  const out: Buckets = new Map();
  for (const byMetric of fine.values()) {
    for (const series of byMetric.values()) {
      for (const b of inOrder(series)) {
        const n = Math.floor(b.bucketMs / size);
        const p = bucketIn(out, b.device, b.metric, n);
        if (p) mergeMoments(p, b);
        else addBucket(out, bucketOf(b.device, b.metric, n, size, b));
      }
    }
  }
  return out;
}

/**
 * Buckets as upsert rows, sorted by (device, metric, bucket), so that concurrent folds lock buckets in the same
 * order. A bucket start is formatted once per distinct start (a batch's buckets share a few), not once per bucket.
 */
function partials(buckets: Buckets): Partial[] {
  const rows: Partial[] = [];
  const isoOf = new Map<number, string>();
  for (const device of [...buckets.keys()].sort(byCodeUnits)) {
    const byMetric = buckets.get(device)!;
    for (const metric of [...byMetric.keys()].sort(byCodeUnits)) {
      for (const b of inOrder(byMetric.get(metric)!)) {
        let bucket = isoOf.get(b.n);
        if (bucket === undefined) isoOf.set(b.n, (bucket = new Date(b.bucketMs).toISOString()));
        rows.push({ device, metric, bucket, count: b.count, sum: b.sum, min: b.min, max: b.max, m2: b.m2 });
      }
    }
  }
  return rows;
}

/** JavaScript's default string order (UTF-16 code units), as the comparison it replaces used. */
const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

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
