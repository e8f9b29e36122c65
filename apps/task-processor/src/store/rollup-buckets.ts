import type { Reading } from '@telemetryhub/schemas';
import { addValue, mergeMoments, momentsOf, type Moments } from '../domain/moments.js';

export type Granularity = '1m' | '1h';
export const BUCKET_MS: Record<Granularity, number> = { '1m': 60_000, '1h': 3_600_000 };

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
 * A series' buckets: the bucket itself while it has only one (nearly always: a series' readings of one batch or
 * fold mostly fall in one minute and one hour), else its buckets by number. With a large fleet a batch holds a
 * bucket or two for each of tens of thousands of series, and a Map for each was most of the fold's garbage.
 * Keyed by number, not start in ms: a minute's number (below 2³⁰ until 2199) is a small integer V8 keeps unboxed,
 * where a start in ms (about 1.8·10¹²) is a heap number allocated and hashed on every lookup.
 */
type SeriesBuckets = Bucket | Map<number, Bucket>;
/** Buckets by device, then metric: looked up per reading without building a key string. */
type Buckets = Map<string, Map<string, SeriesBuckets>>;

/**
 * The minute buckets of readings gathered over one or more batches (a fold's rollups, held between folds): as
 * big as the series × minutes they cover, however many readings went in.
 */
export class MinuteBuckets {
  private readonly buckets: Buckets = new Map();
  private count = 0;

  /** Adds one reading's value to its (device, metric, minute). */
  add(device: string, metric: string, ms: number, value: number): void {
    const n = Math.floor(ms / BUCKET_MS['1m']);
    const b = bucketIn(this.buckets, device, metric, n);
    if (b) addValue(b, value);
    else {
      addBucket(this.buckets, bucketOf(device, metric, n, BUCKET_MS['1m'], momentsOf(value)));
      this.count++;
    }
  }

  /** Takes `other`'s buckets in, as if their readings had been added here (`other` is not to be used after). */
  absorb(other: MinuteBuckets): void {
    forEachBucket(other.buckets, (b) => {
      if (mergeInto(this.buckets, b, b.n, BUCKET_MS['1m'])) this.count++;
    });
  }

  /** Minute buckets held: the 1-minute rollup rows a fold of them upserts. */
  get size(): number {
    return this.count;
  }

  /** The number (start ÷ one hour) of each distinct hour held, sorted. */
  hourNumbers(): number[] {
    const hours = new Set<number>();
    forEachBucket(this.buckets, (b) => hours.add(Math.floor(b.bucketMs / BUCKET_MS['1h'])));
    return [...hours].sort((a, b) => a - b);
  }

  /** The start (ms) of each distinct minute held, for the partitions the rows go to. */
  minuteStarts(): number[] {
    const starts = new Set<number>();
    forEachBucket(this.buckets, (b) => starts.add(b.bucketMs));
    return [...starts];
  }

  /**
   * The upsert rows of both rollups: the minutes held, and the hours merged from them — only the hours that start
   * before `hoursBeforeMs` (an hour boundary): later hours are not upserted but sealed from their minute rows once
   * over (rollup-sealer.ts).
   */
  partials(hoursBeforeMs = Infinity): Record<Granularity, Partial[]> {
    return { '1m': partials(this.buckets), '1h': partials(coarsen(this.buckets, BUCKET_MS['1h'], hoursBeforeMs)) };
  }

  /**
   * Readings pre-aggregated per (device, metric, minute) in memory: one upsert row per bucket, not per reading.
   * `eventMs` (each reading's event time in ms, in order) may be passed by a caller that already has it.
   */
  static of(
    readings: readonly Reading[],
    eventMs: readonly number[] = readings.map((r) => Date.parse(r.event_time)),
  ): MinuteBuckets {
    const minutes = new MinuteBuckets();
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i]!;
      minutes.add(r.device_id, r.metric, eventMs[i]!, r.value);
    }
    return minutes;
  }
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

/** A series' buckets in bucket order. */
function inOrder(series: SeriesBuckets): Bucket[] {
  return series instanceof Map ? [...series.values()].sort((a, b) => a.n - b.n) : [series];
}

/**
 * Finer buckets that start before `beforeMs` merged into buckets of `size` ms (a multiple of theirs) by the
 * pairwise update, as the upsert merges them in the table: the hour rollup from the minute buckets, without going
 * over every reading again.
 */
function coarsen(fine: Buckets, size: number, beforeMs: number): Buckets {
  const out: Buckets = new Map();
  forEachBucket(fine, (b) => {
    if (b.bucketMs < beforeMs) mergeInto(out, b, Math.floor(b.bucketMs / size), size);
  });
  return out;
}

/** Calls `fn` with every bucket of every series, each series' in bucket order (a callback: no generator per fold). */
function forEachBucket(buckets: Buckets, fn: (b: Bucket) => void): void {
  for (const byMetric of buckets.values()) {
    for (const series of byMetric.values()) {
      if (series instanceof Map) for (const b of inOrder(series)) fn(b);
      else fn(series);
    }
  }
}

/**
 * Merges `b` into bucket number `n` (of `size` ms) of its series in `out`, or adds a copy of it as that bucket.
 * Whether it added one.
 */
function mergeInto(out: Buckets, b: Bucket, n: number, size: number): boolean {
  const mine = bucketIn(out, b.device, b.metric, n);
  if (mine) mergeMoments(mine, b);
  else addBucket(out, bucketOf(b.device, b.metric, n, size, b));
  return mine === undefined;
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
