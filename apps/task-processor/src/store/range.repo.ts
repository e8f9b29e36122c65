import type pg from 'pg';
import { ROLLUP_VIEWS } from './rollup.repo.js';
import { BUCKET_MS } from './rollup-buckets.js';
import { isoUtc } from './sql-time.js';

/** A stored reading as the range query returns it. */
export interface RangeReading {
  event_id: string;
  event_time: string;
  value: number;
  unit: string | null;
  sequence_id: number | null;
}

/** Where a page of a range query ends: the next page starts after this reading. */
export interface RangeCursor {
  eventTime: string;
  eventId: string;
}

/**
 * A device's readings of one metric with from ≤ event time < to, oldest first (ties by event id), at most `limit`;
 * `after` continues a previous page (keyset: stable while rows arrive, no OFFSET scan). Uses the
 * (device_id, metric, event_time) index.
 */
export async function readingsInRange(
  db: pg.Pool,
  q: { deviceId: string; metric: string; from: string; to: string; limit: number; after?: RangeCursor },
): Promise<RangeReading[]> {
  const { rows } = await db.query<RangeReading>(
    `SELECT event_id::text AS event_id, ${isoUtc('event_time')} AS event_time, value, unit, sequence_id::float8 AS sequence_id
       FROM readings
      WHERE device_id = $1 AND metric = $2 AND event_time >= $3 AND event_time < $4
        AND ($5::timestamptz IS NULL OR (event_time, event_id) > ($5::timestamptz, $6::uuid))
      ORDER BY event_time, event_id
      LIMIT $7`,
    [q.deviceId, q.metric, q.from, q.to, q.after?.eventTime ?? null, q.after?.eventId ?? null, q.limit],
  );
  return rows;
}

export interface WindowAggregate {
  count: number;
  avg: number | null;
  min: number | null;
  max: number | null;
  /** Sample standard deviation; null for fewer than two readings, or when a minute folded before m2 existed. */
  stddev: number | null;
}

const MINUTE_MS = BUCKET_MS['1m'];

/**
 * Count, average, min, max and standard deviation of a device's metric over from ≤ event time < to, exactly and
 * without scanning every raw reading of a long window: the whole minutes inside it come from the 1-minute rollups
 * (which hold each stored reading once; minutes not sealed yet computed from their raw readings), the partial minutes at its two ends from the raw readings, and the parts
 * are merged with Chan's formula (as the rollups themselves are). Raw readings older than RAW_RETENTION_DAYS are
 * gone: for such a window, give minute-aligned ends.
 */
export async function aggregateOver(
  db: pg.Pool,
  q: { deviceId: string; metric: string; from: string; to: string },
): Promise<WindowAggregate> {
  const fromMs = Date.parse(q.from);
  const toMs = Date.parse(q.to);
  let innerFrom = Math.ceil(fromMs / MINUTE_MS) * MINUTE_MS;
  let innerTo = Math.floor(toMs / MINUTE_MS) * MINUTE_MS;
  if (innerFrom >= innerTo) innerFrom = innerTo = toMs; // no whole minute inside: all from the raw readings
  const { rows } = await db.query<{
    n: number | null;
    avg: number | null;
    min: number | null;
    max: number | null;
    stddev: number | null;
  }>(
    `WITH parts AS (
       SELECT count::float8 AS n, sum AS s, min, max, m2
         FROM ${ROLLUP_VIEWS['1m']}
        WHERE device_id = $1 AND metric = $2 AND bucket >= $5 AND bucket < $6
       UNION ALL
       SELECT 1, value, value, value, 0
         FROM readings
        WHERE device_id = $1 AND metric = $2
          AND ((event_time >= $3 AND event_time < $5) OR (event_time >= $6 AND event_time < $4))
     ), total AS (
       SELECT sum(n) AS n, sum(s) AS s, min(min) AS min, max(max) AS max, bool_and(m2 IS NOT NULL) AS has_m2
         FROM parts
     )
     SELECT total.n, total.s / total.n AS avg, total.min, total.max,
            CASE WHEN total.has_m2 AND total.n > 1
                 THEN sqrt(sum(parts.m2 + parts.n * (parts.s / parts.n - total.s / total.n) ^ 2) / (total.n - 1))
            END AS stddev
       FROM total LEFT JOIN parts ON true
      GROUP BY total.n, total.s, total.min, total.max, total.has_m2`,
    [q.deviceId, q.metric, q.from, q.to, new Date(innerFrom).toISOString(), new Date(innerTo).toISOString()],
  );
  const r = rows[0];
  const count = Number(r?.n ?? 0);
  return count === 0
    ? { count: 0, avg: null, min: null, max: null, stddev: null }
    : { count, avg: r!.avg, min: r!.min, max: r!.max, stddev: r!.stddev };
}
