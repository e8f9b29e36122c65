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
 * Loads and locks the running statistics of every device and metric in `inputs`, for the rest of the caller's
 * transaction: another replica folding readings of the same device waits, so no update is lost. Rows are first
 * created empty (samples 0) where missing — only for series not in `known` — so that even a first sample has a row
 * to lock; both statements take the rows in one order (ORDER BY device, metric: the database's own, whatever the
 * caller's), so replicas cannot deadlock on them. A known series whose row is gone after all is created and locked
 * in a second pass.
 */
export async function lockOutlierState(
  client: pg.PoolClient,
  inputs: OutlierInputs,
  known?: KnownOutlierSeries,
): Promise<Map<string, EwmaState>> {
  const series = [...inputs.series()];
  const keys = series.map((s) => outlierStateKey(s.device, s.metric));
  const unknown = known ? series.filter((_, i) => !known.has(keys[i]!)) : series;
  if (unknown.length) await createMissing(client, unknown);
  const states = await lockRows(client, series);
  if (states.size < series.length) {
    const gone = series.filter((_, i) => !states.has(keys[i]!));
    await createMissing(client, gone);
    for (const [key, state] of await lockRows(client, gone)) states.set(key, state);
  }
  if (known) for (const key of keys) known.add(key);
  return states;
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
 * Locks and reads the rows of `series` (those that exist), in one row of arrays: each locked row's position in
 * `series` and its statistics. Not a row per series: at a large fleet that was a fold's tens of thousands of row
 * objects, each with its device and metric read back, all alive until the fold was done, so copied by the
 * young-generation collector (docs/benchmarks.md, "The collector").
 */
async function lockRows(client: pg.PoolClient, series: readonly SeriesKey[]): Promise<Map<string, EwmaState>> {
  const { rows } = await client.query<{ at: number[]; samples: number[]; mean: number[]; variance: number[] }>(
    `SELECT coalesce(array_agg(at), '{}') AS at, coalesce(array_agg(samples), '{}') AS samples,
            coalesce(array_agg(mean), '{}') AS mean, coalesce(array_agg(variance), '{}') AS variance
       FROM (SELECT k.at::int4 AS at, s.samples::float8 AS samples, s.mean, s.variance
               FROM outlier_state s
               JOIN unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(d, m, at)
                 ON s.device_id = k.d AND s.metric = k.m
              ORDER BY s.device_id, s.metric
                FOR UPDATE OF s) AS locked`,
    [textArrayLiteral(series.map((s) => s.device)), textArrayLiteral(series.map((s) => s.metric))],
  );
  const { at, samples, mean, variance } = rows[0]!;
  const states = new Map<string, EwmaState>();
  for (let j = 0; j < at.length; j++) {
    const s = series[at[j]! - 1]!;
    states.set(outlierStateKey(s.device, s.metric), { samples: samples[j]!, mean: mean[j]!, variance: variance[j]! });
  }
  return states;
}

/** Writes back the running statistics (the rows lockOutlierState locked). */
export async function saveOutlierState(client: pg.PoolClient, states: ReadonlyMap<string, EwmaState>): Promise<void> {
  if (!states.size) return;
  const devices: string[] = [];
  const metrics: string[] = [];
  const samples: number[] = [];
  const means: number[] = [];
  const variances: number[] = [];
  for (const [key, s] of states) {
    const [device, metric] = key.split('\u0000') as [string, string];
    devices.push(device);
    metrics.push(metric);
    samples.push(s.samples);
    means.push(s.mean);
    variances.push(s.variance);
  }
  await client.query(
    `UPDATE outlier_state AS s
        SET samples = k.n, mean = k.mean, variance = k.variance, updated_at = now()
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::float8[], $5::float8[]) AS k(d, m, n, mean, variance)
      WHERE s.device_id = k.d AND s.metric = k.m`,
    [
      textArrayLiteral(devices),
      textArrayLiteral(metrics),
      numberArrayLiteral(samples),
      numberArrayLiteral(means),
      numberArrayLiteral(variances),
    ],
  );
}
