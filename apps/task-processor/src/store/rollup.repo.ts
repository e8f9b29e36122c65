import type pg from 'pg';
import { STORABLE } from '@telemetryhub/schemas';
import { numberArrayLiteral, textArrayLiteral } from './pg-array.js';
import type { Granularity, MinuteBuckets } from './rollup-buckets.js';
import { sealShared } from './rollup-seal.repo.js';

export const ROLLUP_TABLES: Record<Granularity, string> = { '1m': 'rollups_1m', '1h': 'rollups_1h' };
/** What to read of each rollup: its table's sealed buckets and the later ones, computed from what they aggregate. */
export const ROLLUP_VIEWS: Record<Granularity, string> = { '1m': 'rollups_1m_all', '1h': 'rollups_1h_all' };

/**
 * The conflict clause that adds an insert's row (`EXCLUDED`) to the rollup row already there (`r`, the table's
 * alias): count, sum, min and max add up, `m2` merges by the pairwise update (below).
 */
export const ADD_TO_ROLLUP_ROW = `ON CONFLICT (device_id, metric, bucket) DO UPDATE
  SET count = r.count + EXCLUDED.count, sum = r.sum + EXCLUDED.sum,
      min = LEAST(r.min, EXCLUDED.min), max = GREATEST(r.max, EXCLUDED.max),
      m2 = CASE WHEN abs(r.sum / r.count) <= ${STORABLE.maxAbsValue}::float8
                AND abs(EXCLUDED.sum / EXCLUDED.count) <= ${STORABLE.maxAbsValue}::float8
           THEN r.m2 + EXCLUDED.m2
                + (EXCLUDED.sum / EXCLUDED.count - r.sum / r.count) ^ 2
                  * r.count * EXCLUDED.count / (r.count + EXCLUDED.count)
           END`;

/**
 * Folds readings of minutes already sealed (late readings: open minutes are read from their raw readings and
 * sealed from them once over, rollup-sealer.ts), pre-aggregated per (device, metric, minute) by MinuteBuckets,
 * into the 1-minute rollups, and into the 1-hour rollups of the hours already sealed (open hours are read from
 * their minute rows and sealed from them once over). Count, sum, min and max add up; `m2` merges by the pairwise
 * update (m2 = m2a + m2b + δ²·na·nb/(na+nb), δ the difference of the two means), so a bucket's variance is exact
 * whatever the order and grouping of its readings. Call it only with readings the raw insert really added, in the
 * same transaction: then each event counts exactly once, whatever the retries. Rows come sorted from
 * MinuteBuckets.partials(), so concurrent folds lock buckets in the same order (no deadlock between replicas).
 *
 * Overflow: values are inside the storable magnitude (|v| ≤ 1e100, storable.ts), so δ² stays below 4e200 and no
 * term comes near float8's limit — PostgreSQL raises an error on float8 overflow, which would fail the batch and
 * every later batch touching the bucket. A bucket whose stored mean lies outside that magnitude (written before the
 * bound existed) is not squared at all: its m2 becomes NULL, "spread unknown", as for rows older than m2.
 */
export async function writeRollups(client: pg.PoolClient, minutes: MinuteBuckets): Promise<number> {
  if (!minutes.size) return 0;
  const byGranularity = minutes.partials(await sealShared(client, '1h', minutes.hourNumbers()));
  let rows = 0;
  for (const granularity of Object.keys(ROLLUP_TABLES) as Granularity[]) {
    const parts = byGranularity[granularity];
    if (!parts.length) continue;
    const table = ROLLUP_TABLES[granularity];
    await client.query(
      `INSERT INTO ${table} AS r (device_id, metric, bucket, count, sum, min, max, m2)
       SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::int8[], $5::float8[], $6::float8[],
                            $7::float8[], $8::float8[])
       ${ADD_TO_ROLLUP_ROW}`,
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
