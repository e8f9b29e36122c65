import type pg from 'pg';
import { BUCKET_MS } from './rollup-buckets.js';

/**
 * Advisory lock class of the hour seal ("thSH" as an int4), the second key being the hour's number (its start ÷
 * one hour): a fold writing minute rows of an hour holds that hour's lock shared, a seal of the hour holds it alone.
 */
export const HOUR_SEAL_LOCK_CLASS = 0x74685348;
export const HOUR_MS = BUCKET_MS['1h'];

/**
 * Where the hour seal stands, in the caller's fold transaction, which will write minute rows of `hours` (hour
 * numbers): hours before it are sealed (their rows are in `rollups_1h`: a fold upserts its readings of them), later
 * ones are not (read from their minute rows, sealed once over). Holds the locks of those hours not sealed yet
 * shared until the transaction ends, so none of them is sealed between this answer and the fold's commit: a seal
 * then reads every minute row the fold wrote (migration 0011). Only a seal of one of these hours makes the fold
 * wait — a seal runs minutes after its hour ends, when only late readings still touch it. An hour already sealed
 * stays sealed (the seal only moves on), so it needs no lock: a fold of a month of late readings takes one or two,
 * not hundreds. Which hours are open is read in the locking statement itself: its snapshot may be older than a
 * seal that commits while it waits, which only locks an hour more than needed. Where the seal stands is read again
 * in a statement after the locks: that snapshot is taken once they are held, so it cannot miss a seal.
 */
export async function hourSealShared(client: pg.PoolClient, hours: readonly number[]): Promise<number> {
  await client.query(
    `SELECT pg_advisory_xact_lock_shared($1, h) FROM unnest($2::int4[]) AS h
      WHERE h::float8 * ${HOUR_MS} >= (SELECT extract(epoch FROM sealed_before) * 1000 FROM rollup_seals WHERE granularity = '1h')`,
    [HOUR_SEAL_LOCK_CLASS, `{${hours.join(',')}}`],
  );
  return sealedBefore(client);
}

/** Where the hour seal stands (ms): hours that start before it are sealed. */
export async function sealedBefore(client: pg.PoolClient): Promise<number> {
  const { rows } = await client.query<{ ms: number }>(
    `SELECT (extract(epoch FROM sealed_before) * 1000)::float8 AS ms FROM rollup_seals WHERE granularity = '1h'`,
  );
  if (!rows[0]) throw new Error('rollup_seals has no 1h row: run the migrations');
  return rows[0].ms;
}
