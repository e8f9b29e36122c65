import type pg from 'pg';
import type { Reading } from '@telemetryhub/common';
import { isoUtc } from './sql-time.js';
import { numberArrayLiteral, textArrayLiteral } from './pg-array.js';

/** A reading with the task that carried it (kept for tracing a row back to its task). */
export interface StoredReadingInput {
  reading: Reading;
  taskId: string;
}

/**
 * Inserts readings in one statement however many there are (arrays + unnest: one round trip, one plan), and
 * skips those already stored (same event_id and event time). Returns the event_ids this call really added, so later steps (rollups,
 * alerts) fold in each event exactly once.
 *
 * Measured against COPY into a staging table then INSERT … SELECT (session 7, bench:processor --type
 * telemetry.store, two runs each): no difference within the runs' noise, so the simpler statement stays.
 */
export async function insertReadings(
  db: pg.Pool | pg.PoolClient,
  items: readonly StoredReadingInput[],
): Promise<Set<string>> {
  if (items.length === 0) return new Set();
  const cols = {
    event_id: [] as string[],
    device_id: [] as string[],
    metric: [] as string[],
    event_time: [] as string[],
    value: [] as number[],
    unit: [] as Array<string | null>,
    site: [] as Array<string | null>,
    region: [] as Array<string | null>,
    firmware: [] as Array<string | null>,
    schema_version: [] as number[],
    sequence_id: [] as Array<number | null>,
    task_id: [] as string[],
  };
  // Lock order: sorted by event_id, so two replicas inserting overlapping batches cannot deadlock.
  const sorted = [...items].sort((a, b) =>
    a.reading.event_id < b.reading.event_id ? -1 : a.reading.event_id > b.reading.event_id ? 1 : 0,
  );
  for (const { reading: r, taskId } of sorted) {
    cols.event_id.push(r.event_id);
    cols.device_id.push(r.device_id);
    cols.metric.push(r.metric);
    cols.event_time.push(r.event_time);
    cols.value.push(r.value);
    cols.unit.push(r.unit);
    cols.site.push(r.site);
    cols.region.push(r.region);
    cols.firmware.push(r.firmware);
    cols.schema_version.push(r.schema_version);
    cols.sequence_id.push(r.sequence_id);
    cols.task_id.push(taskId);
  }
  const { rows } = await db.query<{ event_id: string }>(
    `INSERT INTO readings (event_id, device_id, metric, event_time, value, unit, site, region, firmware,
                           schema_version, sequence_id, task_id)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::float8[], $6::text[],
                          $7::text[], $8::text[], $9::text[], $10::int2[], $11::int8[], $12::text[])
     ON CONFLICT (event_id, event_time) DO NOTHING
     RETURNING event_id`,
    [
      textArrayLiteral(cols.event_id),
      textArrayLiteral(cols.device_id),
      textArrayLiteral(cols.metric),
      textArrayLiteral(cols.event_time),
      numberArrayLiteral(cols.value),
      textArrayLiteral(cols.unit),
      textArrayLiteral(cols.site),
      textArrayLiteral(cols.region),
      textArrayLiteral(cols.firmware),
      numberArrayLiteral(cols.schema_version),
      numberArrayLiteral(cols.sequence_id),
      textArrayLiteral(cols.task_id),
    ],
  );
  return new Set(rows.map((r) => r.event_id));
}

export interface LatestReading {
  device_id: string;
  metric: string;
  event_time: string;
  value: number;
  unit: string | null;
  event_id: string;
  stored_at: string;
}

/** The newest reading (by event time) of one device and metric, or null. Served by the (device, metric, time) index. */
export async function latestReading(db: pg.Pool, deviceId: string, metric: string): Promise<LatestReading | null> {
  const { rows } = await db.query<LatestReading>(
    `SELECT device_id, metric, ${isoUtc('event_time')} AS event_time,
            value, unit, event_id::text AS event_id,
            ${isoUtc('stored_at')} AS stored_at
       FROM readings
      WHERE device_id = $1 AND metric = $2
      ORDER BY event_time DESC
      LIMIT 1`,
    [deviceId, metric],
  );
  return rows[0] ?? null;
}
