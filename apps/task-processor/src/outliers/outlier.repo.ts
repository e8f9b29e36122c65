import type pg from 'pg';
import { outlierStateKey, type EwmaState } from './outlier-rules.js';
import type { OutlierInputs } from './outlier-inputs.js';
import { numberArrayLiteral, textArrayLiteral } from '../store/pg-array.js';

/**
 * Loads and locks the running statistics of every device and metric in `inputs`, for the rest of the caller's
 * transaction: another replica folding readings of the same device waits, so no update is lost. Rows are first
 * created empty (samples 0) where missing, so that even a first sample has a row to lock; both statements take
 * the rows in one order (ORDER BY device, metric: the database's own, whatever the caller's), so replicas cannot
 * deadlock on them.
 */
export async function lockOutlierState(client: pg.PoolClient, inputs: OutlierInputs): Promise<Map<string, EwmaState>> {
  const series = [...inputs.series()];
  // Built once as array literals, sent with both statements.
  const devices = textArrayLiteral(series.map((s) => s.device));
  const metrics = textArrayLiteral(series.map((s) => s.metric));
  await client.query(
    `INSERT INTO outlier_state (device_id, metric, samples, mean, variance)
     SELECT d, m, 0, 0, 0 FROM unnest($1::text[], $2::text[]) AS k(d, m)
     ORDER BY d, m
     ON CONFLICT (device_id, metric) DO NOTHING`,
    [devices, metrics],
  );
  const { rows } = await client.query<{
    device_id: string;
    metric: string;
    samples: string;
    mean: number;
    variance: number;
  }>(
    `SELECT s.device_id, s.metric, s.samples, s.mean, s.variance
       FROM outlier_state s JOIN unnest($1::text[], $2::text[]) AS k(d, m) ON s.device_id = k.d AND s.metric = k.m
      ORDER BY s.device_id, s.metric
      FOR UPDATE OF s`,
    [devices, metrics],
  );
  const states = new Map<string, EwmaState>();
  for (const r of rows) {
    states.set(outlierStateKey(r.device_id, r.metric), {
      samples: Number(r.samples),
      mean: r.mean,
      variance: r.variance,
    });
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
