import type pg from 'pg';
import { SeriesSet } from '../domain/series-set.js';
import { EwmaColumns } from './outlier-rules.js';
import type { OutlierInputs, SeriesInputs } from './outlier-inputs.js';
import { numberArrayLiteral, textArrayLiteral } from '../store/pg-array.js';

/**
 * Series whose outlier-state row a process has seen (created or read), so that a fold does not ask PostgreSQL to
 * create them again: with a large fleet that insert-if-missing, finding every row there, was a third of what the
 * outlier state cost a fold. Kept by device, then metric, so that asking makes no key string. Bounded: past `max`
 * series it starts over (the rows are then looked for again, no harm). Rows are never deleted by the processor;
 * one deleted behind its back (by hand) is created again.
 */
export class KnownOutlierSeries {
  private readonly series = new SeriesSet();
  constructor(private readonly max = 1_000_000) {}

  has(device: string, metric: string): boolean {
    return this.series.has(device, metric);
  }

  add(device: string, metric: string): void {
    if (this.series.has(device, metric)) return;
    if (this.series.size >= this.max) this.series.clear();
    this.series.add(device, metric);
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

/**
 * A series' row changed between the fold's read and its write: another writer did not take the lock. It carries
 * PostgreSQL's code for a serialization failure, which is what it is, so that whoever classifies database errors
 * (store/pg-errors.ts) retries it as transient.
 */
export class OutlierStateMovedError extends Error {
  readonly code = '40001';
  constructor(readonly series: number) {
    super(`outlier state of ${series} series changed while the fold held it; the fold is rolled back to retry`);
    this.name = 'OutlierStateMovedError';
  }
}

/** The running statistics a fold read: series[i]'s at i, with the sample count its row had when read. */
export interface OutlierStates {
  series: SeriesInputs[];
  states: EwmaColumns;
  /** Samples each row held when read: saveOutlierState writes a row only if it still holds as many. */
  readSamples: Float64Array;
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
  const read: OutlierStates = {
    series,
    states: new EwmaColumns(series.length),
    readSamples: new Float64Array(series.length),
  };
  const all = series.map((_, i) => i);
  const unknown = known ? all.filter((i) => !known.has(series[i]!.device, series[i]!.metric)) : all;
  if (unknown.length) await createMissing(client, series, unknown);
  const found = await readRows(client, read, all);
  if (found.length < series.length) {
    const seen = new Uint8Array(series.length);
    for (const i of found) seen[i] = 1;
    const gone = all.filter((i) => !seen[i]);
    await createMissing(client, series, gone);
    await readRows(client, read, gone);
  }
  if (known) for (const s of series) known.add(s.device, s.metric);
  return read;
}

/** Creates the empty rows of the series at `at` that do not exist. */
async function createMissing(
  client: pg.PoolClient,
  series: readonly SeriesInputs[],
  at: readonly number[],
): Promise<void> {
  await client.query(
    `INSERT INTO outlier_state (device_id, metric, samples, mean, variance)
     SELECT d, m, 0, 0, 0 FROM unnest($1::text[], $2::text[]) AS k(d, m)
     ORDER BY d, m
     ON CONFLICT (device_id, metric) DO NOTHING`,
    [textArrayLiteral(at.map((i) => series[i]!.device)), textArrayLiteral(at.map((i) => series[i]!.metric))],
  );
}

/**
 * Reads the rows of the series at `at` (those that exist) into `read`, in one row of arrays: each row's position and
 * its statistics — not a row object per series, with its device and metric read back. Returns the positions found.
 * The arrays come as JSON (parsed natively, into arrays of numbers) rather than PostgreSQL array text, which pg
 * parses a character at a time in JavaScript (a string per element, then parseFloat): that parser was about a
 * twentieth of what the processor allocated at 5,000 series. float8 prints the same digits either way.
 */
async function readRows(client: pg.PoolClient, read: OutlierStates, at: readonly number[]): Promise<number[]> {
  const { series, states, readSamples } = read;
  const { rows } = await client.query<{ at: number[]; samples: number[]; mean: number[]; variance: number[] }>(
    `SELECT coalesce(json_agg(k.at::int4), '[]') AS at, coalesce(json_agg(s.samples::float8), '[]') AS samples,
            coalesce(json_agg(s.mean), '[]') AS mean, coalesce(json_agg(s.variance), '[]') AS variance
       FROM outlier_state s
       JOIN unnest($1::text[], $2::text[], $3::int4[]) AS k(d, m, at)
         ON s.device_id = k.d AND s.metric = k.m`,
    [
      textArrayLiteral(at.map((i) => series[i]!.device)),
      textArrayLiteral(at.map((i) => series[i]!.metric)),
      numberArrayLiteral(at),
    ],
  );
  const r = rows[0]!;
  for (let j = 0; j < r.at.length; j++) {
    const i = r.at[j]!;
    states.samples[i] = r.samples[j]!;
    states.mean[i] = r.mean[j]!;
    states.variance[i] = r.variance[j]!;
    readSamples[i] = r.samples[j]!;
  }
  return r.at;
}

/**
 * Writes back the running statistics readOutlierState read, each row only if it still holds the samples it was read
 * with (every reading folded adds one, so a row another writer folded into meanwhile holds more). Folds take the
 * lock, so that does not happen among them; a writer that does not (a replica still running a version that locked
 * rows instead, during a rolling upgrade) is caught here: OutlierStateMovedError, the transaction rolls back and the
 * fold is retried, rather than one update lost.
 */
export async function saveOutlierState(client: pg.PoolClient, read: OutlierStates): Promise<void> {
  const { series, states, readSamples } = read;
  if (!series.length) return;
  const { rowCount } = await client.query(
    `UPDATE outlier_state AS s
        SET samples = k.n, mean = k.mean, variance = k.variance, updated_at = now()
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::float8[], $6::float8[])
            AS k(d, m, was, n, mean, variance)
      WHERE s.device_id = k.d AND s.metric = k.m AND s.samples = k.was`,
    [
      textArrayLiteral(series.map((s) => s.device)),
      textArrayLiteral(series.map((s) => s.metric)),
      numberArrayLiteral(readSamples),
      numberArrayLiteral(states.samples),
      numberArrayLiteral(states.mean),
      numberArrayLiteral(states.variance),
    ],
  );
  const written = rowCount ?? 0;
  if (written < series.length) throw new OutlierStateMovedError(series.length - written);
}
