/** When the fold's timer folds what is held. */
export interface FoldSchedule {
  /** How often the timer looks (ms): how far the derived tables trail the raw rows when folding is cheap. */
  intervalMs: number;
  /**
   * How long a held batch waits at most (ms), however few readings per row are held: it is folded at the last tick
   * before (at every tick when this is at most `intervalMs`).
   */
  maxDelayMs: number;
  /** Readings held per row to write at which a fold is worth it before the max delay. */
  readingsPerRow: number;
  /** A fold writing at most this many rows runs at every tick (a small fold costs little however sparse). */
  smallFoldRows: number;
}

/** What is held for the next fold. */
export interface Held {
  readings: number;
  /** The rows a fold of them writes per table (the most of its minute buckets and its outlier series). */
  rows: number;
  /** Since the first of them was held (ms). */
  ageMs: number;
  /** Since the latest of them was held (ms). */
  quietMs: number;
}

/**
 * Whether a fold is due at this tick. A fold costs about a row write per series it saw, in each of the rollup,
 * outlier-state and device tables, whatever the number of readings; so a fold that waits until it holds
 * `readingsPerRow` readings per row spends at most 1/`readingsPerRow` of a row write per reading, however large the
 * fleet. A small fleet, or a large one reporting fast, folds at every tick; a large fleet reporting slowly folds
 * less often, within `maxDelayMs`. Waiting only pays while more readings are coming: once none has been stored for
 * a whole interval (a backlog drained, a quiet hour), what is held is folded at once.
 */
export function foldDue(held: Held, s: FoldSchedule): boolean {
  if (held.readings === 0) return false;
  // Due at the last tick before the oldest would have waited longer than the max delay.
  const lastTick = held.ageMs + s.intervalMs > s.maxDelayMs;
  const quiet = held.quietMs >= s.intervalMs;
  return lastTick || quiet || held.rows <= s.smallFoldRows || held.readings >= s.readingsPerRow * held.rows;
}
