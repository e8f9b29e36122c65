/**
 * Count, sum, extremes, mean and m2 (the sum of squared deviations from the mean) of a set of values — what a
 * rollup bucket and a batch's statistics both keep. Built one value at a time by Welford's update and merged by
 * Chan et al.'s pairwise update, both stable for values with a large mean and a small spread (a sum of squares
 * would not be).
 */
export interface Moments {
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  m2: number;
}

/** The moments of one value. */
export function momentsOf(x: number): Moments {
  return { count: 1, sum: x, min: x, max: x, mean: x, m2: 0 };
}

/** Adds one value to `m` (Welford's update). */
export function addValue(m: Moments, x: number): void {
  m.count++;
  m.sum += x;
  if (x < m.min) m.min = x;
  if (x > m.max) m.max = x;
  const delta = x - m.mean;
  m.mean += delta / m.count;
  m.m2 += delta * (x - m.mean);
}

/** Merges `b` into `m`, as if `m` had seen `b`'s values too (the pairwise update). */
export function mergeMoments(m: Moments, b: Moments): void {
  const n = m.count + b.count;
  const delta = b.mean - m.mean;
  m.m2 += b.m2 + (delta * delta * m.count * b.count) / n;
  m.mean += (delta * b.count) / n;
  m.count = n;
  m.sum += b.sum;
  if (b.min < m.min) m.min = b.min;
  if (b.max > m.max) m.max = b.max;
}

/** The sample standard deviation: null for fewer than two values, or an m2 not known (rows older than it). */
export function sampleStddev(count: number, m2: number | null): number | null {
  return count > 1 && m2 !== null ? Math.sqrt(Math.max(0, m2) / (count - 1)) : null;
}
