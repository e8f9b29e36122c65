import type pg from 'pg';
import { outlierStateKey, type EwmaState } from './outlier-rules.js';
import type { OutlierInputs } from './outlier-inputs.js';
import { numberArrayLiteral, textArrayLiteral } from '../store/pg-array.js';

/**
 * Series whose outlier-state row a process has seen (created or locked), so that a fold does not ask PostgreSQL to
 * create them again: with a large fleet that insert-if-missing, finding every row there, was a third of what the
 * outlier state cost a fold. Bounded: past `max` keys it starts over (the rows are then looked for again, no
 * harm). Rows are never deleted by the processor; one deleted behind its back (by hand) is created again.
 */
export class KnownOutlierSeries {
  private readonly keys = new Set<string>();
  constructor(private readonly max = 1_000_000) {}

  has(key: string): boolean {
    return this.keys.has(key);
  }

  add(key: string): void {
    if (this.keys.size >= this.max) this.keys.clear();
    this.keys.add(key);
  }
}

/**
 * Serialises the folds that update outlier state, across processes and replicas (taken for the rest of the
 * transaction). One lock for all the state rather than a row lock per series: at a large fleet a fold reads tens of
 * thousands of series, and locking each row writes each one twice — once to lock it, once to update it (the lock
 * was about half of what the outlier state cost PostgreSQL: docs/benchmarks.md) — while two folds that meet the
 * same fleet wait for each other either way. Taken after the fold's rollup and device rows, at the same point in
 * every fold, so no two folds wait for each other in a cycle.
 */
export const OUTLIER_STATE_LOCK_KEY = 0x74682d6f75746cn;

/** A series' row changed between the fold's read and its write: another writer did not take the lock. */
export class OutlierStateMovedError extends Error {
  constructor(readonly series: number) {
    super(`outlier state of ${series} series changed while the fold held it; the fold is rolled back to retry`);
    this.name = 'OutlierStateMovedError';
  }
}

/** The running statistics a fold read, by series key, with the sample count each row had when read. */
export interface OutlierStates {
  states: Map<string, EwmaState>;
  /** Samples each row held when read: saveOutlierState writes a row only if it still holds as many. */
  readSamples: Map<string, number>;
}

/**
 * Takes the outlier-state lock (OUTLIER_STATE_LOCK_KEY) and reads the running statistics of every device and metric
 * in `inputs`. Rows are first created empty (samples 0) where missing — only for series not in `known` — so that
 * each series read has a row to write back. A known series whose row is gone after all is created in a second pass.
 */
export async function readOutlierState(
  client: pg.PoolClient,
  inputs: OutlierInputs,
  known?: KnownOutlierSeries,
): Promise<OutlierStates> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [OUTLIER_STATE_LOCK_KEY.toString()]);
  const series = [...inputs.series()];
  const keys = series.map((s) => outlierStateKey(s.device, s.metric));
  const unknown = known ? series.filter((_, i) => !known.has(keys[i]!)) : series;
  if (unknown.length) await createMissing(client, unknown);
  const read = await readRows(client, series);
  if (read.states.size < series.length) {
    const gone = series.filter((_, i) => !read.states.has(keys[i]!));
    await createMissing(client, gone);
    const again = await readRows(client, gone);
    for (const [key, state] of again.states) read.states.set(key, state);
    for (const [key, n] of again.readSamples) read.readSamples.set(key, n);
  }
  if (known) for (const key of keys) known.add(key);
  return read;
}

type SeriesKey = { device: string; metric: string };

/** Creates the empty rows of `series` that do not exist. */
async function createMissing(client: pg.PoolClient, series: readonly SeriesKey[]): Promise<void> {
  await client.query(
    `INSERT INTO outlier_state (device_id, metric, samples, mean, variance)
     SELECT d, m, 0, 0, 0 FROM unnest($1::text[], $2::text[]) AS k(d, m)
     ORDER BY d, m
     ON CONFLICT (device_id, metric) DO NOTHING`,
    [textArrayLiteral(series.map((s) => s.device)), textArrayLiteral(series.map((s) => s.metric))],
  );
}

/**
 * Reads the rows of `series` (those that exist), in one row of arrays: each row's position in `series` and its
 * statistics. Not a row per series: at a large fleet that was a fold's tens of thousands of row objects, each with
 * its device and metric read back, all alive until the fold was done, so copied by the young-generation collector
 * (docs/benchmarks.md, "The collector").
 */
async function readRows(client: pg.PoolClient, series: readonly SeriesKey[]): Promise<OutlierStates> {
  const { rows } = await client.query<{ at: number[]; samples: number[]; mean: number[]; variance: number[] }>(
    `SELECT coalesce(array_agg(k.at::int4), '{}') AS at, coalesce(array_agg(s.samples::float8), '{}') AS samples,
            coalesce(array_agg(s.mean), '{}') AS mean, coalesce(array_agg(s.variance), '{}') AS variance
       FROM outlier_state s
       JOIN unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(d, m, at)
         ON s.device_id = k.d AND s.metric = k.m`,
    [textArrayLiteral(series.map((s) => s.device)), textArrayLiteral(series.map((s) => s.metric))],
  );
  const { at, samples, mean, variance } = rows[0]!;
  const states = new Map<string, EwmaState>();
  const readSamples = new Map<string, number>();
  for (let j = 0; j < at.length; j++) {
    const s = series[at[j]! - 1]!;
    const key = outlierStateKey(s.device, s.metric);
    states.set(key, { samples: samples[j]!, mean: mean[j]!, variance: variance[j]! });
    readSamples.set(key, samples[j]!);
  }
  return { states, readSamples };
}

/**
 * Writes back the running statistics readOutlierState read, each row only if it still holds the samples it was read
 * with (every reading folded adds one, so a row another writer folded into meanwhile holds more). Folds take the
 * lock, so that does not happen among them; a writer that does not (a replica still running a version that locked
 * rows instead, during a rolling upgrade) is caught here: OutlierStateMovedError, the transaction rolls back and the
 * fold is retried, rather than one update lost.
 */
export async function saveOutlierState(client: pg.PoolClient, read: OutlierStates): Promise<void> {
  const { states, readSamples } = read;
  if (!states.size) return;
  const devices: string[] = [];
  const metrics: string[] = [];
  const was: number[] = [];
  const samples: number[] = [];
  const means: number[] = [];
  const variances: number[] = [];
  for (const [key, s] of states) {
    const [device, metric] = key.split('\u0000') as [string, string];
    devices.push(device);
    metrics.push(metric);
    was.push(readSamples.get(key) ?? 0);
    samples.push(s.samples);
    means.push(s.mean);
    variances.push(s.variance);
  }
  const { rowCount } = await client.query(
    `UPDATE outlier_state AS s
        SET samples = k.n, mean = k.mean, variance = k.variance, updated_at = now()
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::float8[], $6::float8[])
            AS k(d, m, was, n, mean, variance)
      WHERE s.device_id = k.d AND s.metric = k.m AND s.samples = k.was`,
    [
      textArrayLiteral(devices),
      textArrayLiteral(metrics),
      numberArrayLiteral(was),
      numberArrayLiteral(samples),
      numberArrayLiteral(means),
      numberArrayLiteral(variances),
    ],
  );
  const written = rowCount ?? 0;
  if (written < states.size) throw new OutlierStateMovedError(states.size - written);
}
