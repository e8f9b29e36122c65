import type pg from 'pg';
import type { Reading } from '@telemetryhub/schemas';
import type { ReadingsToStore } from '../store/raw.repo.js';
import { isoUtc } from '../store/sql-time.js';

/** Why a reading was set aside instead of stored raw. */
export const EXPIRY_REASONS = { beyondHorizon: 'beyond_horizon' } as const;
export type ExpiryReason = (typeof EXPIRY_REASONS)[keyof typeof EXPIRY_REASONS];

export interface ExpiredReadingRow {
  event_id: string;
  device_id: string;
  metric: string;
  event_time: string;
  reason: string;
  task_id: string | null;
  reading: Reading;
  received_at: string;
}

/**
 * Keeps readings too old to store raw (older than the expiry horizon) in `expired_readings`, whole, with the reason,
 * once per event_id: a retried or resent batch adds nothing. Returns how many rows it added.
 */
export async function insertExpiredReadings(
  db: pg.Pool | pg.PoolClient,
  rows: ReadingsToStore,
  reason: ExpiryReason,
): Promise<number> {
  const { readings } = rows;
  if (readings.length === 0) return 0;
  const { rowCount } = await db.query(
    `INSERT INTO expired_readings (event_id, device_id, metric, event_time, reason, task_id, reading)
     SELECT e, d, m, t, $5, k, r
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $6::text[], $7::jsonb[]) AS u (e, d, m, t, k, r)
     ON CONFLICT (event_id) DO NOTHING`,
    [
      readings.map((r) => r.event_id),
      readings.map((r) => r.device_id),
      readings.map((r) => r.metric),
      readings.map((r) => r.event_time),
      reason,
      rows.taskIds,
      readings.map((r) => JSON.stringify(r)),
    ],
  );
  return rowCount ?? 0;
}

/** Expired readings, oldest received first, optionally of one device. */
export async function listExpiredReadings(
  db: pg.Pool,
  opts: { limit: number; offset?: number; deviceId?: string },
): Promise<{ total: number; items: ExpiredReadingRow[] }> {
  const where = opts.deviceId === undefined ? '' : 'WHERE device_id = $3';
  const params: unknown[] = [opts.limit, opts.offset ?? 0];
  if (opts.deviceId !== undefined) params.push(opts.deviceId);
  const { rows } = await db.query<ExpiredReadingRow & { total: string }>(
    `SELECT event_id::text AS event_id, device_id, metric,
            ${isoUtc('event_time')} AS event_time, reason, task_id, reading,
            ${isoUtc('received_at')} AS received_at, count(*) OVER () AS total
       FROM expired_readings ${where}
      ORDER BY received_at, event_id
      LIMIT $1 OFFSET $2`,
    params,
  );
  const total = rows[0] ? Number(rows[0].total) : 0;
  return { total, items: rows.map(({ total: _total, ...row }) => row) };
}

/** A page of expired readings after `afterEventId` (keyset on event_id), optionally of one device. */
export async function expiredReadingsAfter(
  db: pg.Pool | pg.PoolClient,
  opts: { afterEventId: string | null; limit: number; deviceId?: string },
): Promise<Array<{ event_id: string; task_id: string | null; reading: Reading }>> {
  const { rows } = await db.query<{ event_id: string; task_id: string | null; reading: Reading }>(
    `SELECT event_id::text AS event_id, task_id, reading
       FROM expired_readings
      WHERE ($1::uuid IS NULL OR event_id > $1::uuid) AND ($3::text IS NULL OR device_id = $3)
      ORDER BY event_id
      LIMIT $2`,
    [opts.afterEventId, opts.limit, opts.deviceId ?? null],
  );
  return rows;
}

/**
 * Removes from `expired_readings` those of `eventIds` that the raw table now holds (same event id and time): what a
 * replay stored. Safe to run twice; a row still expired stays. Returns how many it removed.
 */
export async function deleteStoredExpiredReadings(
  db: pg.Pool | pg.PoolClient,
  eventIds: readonly string[],
): Promise<number> {
  if (eventIds.length === 0) return 0;
  const { rowCount } = await db.query(
    `DELETE FROM expired_readings l
      WHERE l.event_id = ANY($1::uuid[])
        AND EXISTS (SELECT 1 FROM readings r WHERE r.event_id = l.event_id AND r.event_time = l.event_time)`,
    [eventIds],
  );
  return rowCount ?? 0;
}
