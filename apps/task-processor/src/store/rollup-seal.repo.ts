import type pg from 'pg';
import { BUCKET_MS, type Granularity } from './rollup-buckets.js';

/**
 * Advisory lock class of each granularity's seal ("thSM", "thSH" as int4s), the second key being the bucket's
 * number (its start ÷ its size): a transaction writing what a bucket not yet sealed is computed from holds that
 * bucket's lock shared — the batch storing raw readings of a minute, the fold writing minute rows of an hour — and
 * the seal of the bucket holds it alone.
 */
export const SEAL_LOCK_CLASS: Readonly<Record<Granularity, number>> = { '1m': 0x7468534d, '1h': 0x74685348 };
export const HOUR_MS = BUCKET_MS['1h'];
export const MINUTE_MS = BUCKET_MS['1m'];

/**
 * Where the `granularity` seal stands, in the caller's transaction, which will write what buckets `numbers` (bucket
 * numbers, sorted) are sealed from: buckets before it are sealed (their rows are in the rollup table: the caller
 * upserts its readings of them itself), later ones are not (read from what they are sealed from, and sealed once
 * over). Holds the locks of those buckets not sealed yet shared until the transaction ends, so none of them is
 * sealed between this answer and the commit: a seal then reads everything the transaction wrote (migrations 0011,
 * 0014). Only a seal of one of these buckets makes the caller wait — a seal runs a grace period after its bucket
 * ends, when only late readings still touch it. A bucket already sealed stays sealed (the seal only moves on), so it
 * needs no lock: a transaction of a month of late readings takes one or two, not thousands. Which buckets are open
 * is read in the locking statement itself: its snapshot may be older than a seal that commits while it waits, which
 * only locks a bucket more than needed. Where the seal stands is read again in a statement after the locks: that
 * snapshot is taken once they are held, so it cannot miss a seal. Locks are taken in bucket order (`numbers` sorted,
 * as unnest hands them on), as a seal takes its own, so that waits never go round in a circle.
 */
export async function sealShared(
  client: pg.PoolClient,
  granularity: Granularity,
  numbers: readonly number[],
): Promise<number> {
  if (numbers.length) {
    await client.query(
      `SELECT pg_advisory_xact_lock_shared($1, n) FROM unnest($2::int4[]) AS n
        WHERE n::float8 * ${BUCKET_MS[granularity]} >= (SELECT extract(epoch FROM sealed_before) * 1000 FROM rollup_seals WHERE granularity = $3)`,
      [SEAL_LOCK_CLASS[granularity], `{${numbers.join(',')}}`, granularity],
    );
  }
  return sealedBefore(client, granularity);
}

/** Where the `granularity` seal stands (ms): buckets that start before it are sealed. */
export async function sealedBefore(client: pg.PoolClient, granularity: Granularity): Promise<number> {
  const { rows } = await client.query<{ ms: number }>(
    `SELECT (extract(epoch FROM sealed_before) * 1000)::float8 AS ms FROM rollup_seals WHERE granularity = $1`,
    [granularity],
  );
  if (!rows[0]) throw new Error(`rollup_seals has no ${granularity} row: run the migrations`);
  return rows[0].ms;
}
