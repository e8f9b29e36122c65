import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Reading } from '@telemetryhub/common';
import { isoUtc } from './sql-time.js';

/** A reading with the task that carried it (kept for tracing a row back to its task). */
export interface StoredReadingInput {
  reading: Reading;
  taskId: string;
}

const COLUMNS =
  'event_id, device_id, metric, event_time, value, unit, site, region, firmware, schema_version, sequence_id, task_id';

/**
 * Inserts readings and skips those already stored (same event_id and event time). Returns the event_ids this call
 * really added, so later steps (rollups, alerts) fold in each event exactly once.
 *
 * The rows go to PostgreSQL by COPY into a session-local staging table, then one `INSERT … SELECT … ON CONFLICT
 * DO NOTHING` moves them: COPY's text format is the cheapest way to ship rows (both to build in JS and for the
 * server to parse — pg's array parameters cost ~5 µs a row on our main thread), and the INSERT keeps the dedup.
 * Must run inside the caller's transaction: the staging table empties itself at commit or rollback (a second
 * call in the same transaction finds the first call's rows again, and the conflict clause skips them).
 */
export async function insertReadings(
  client: pg.PoolClient,
  items: readonly StoredReadingInput[],
): Promise<Set<string>> {
  if (items.length === 0) return new Set();
  // Every time, in the caller's transaction: remembering "this session has it" would be wrong after a rollback
  // of the transaction that created it (and under a transaction-pooling proxy). Once it exists this is a no-op.
  await client.query(
    `CREATE TEMP TABLE IF NOT EXISTS readings_stage
       (LIKE readings INCLUDING DEFAULTS EXCLUDING CONSTRAINTS) ON COMMIT DELETE ROWS`,
  );
  // Lock order: sorted by event_id, so two replicas inserting overlapping batches take row locks in one order
  // (a freshly filled staging table is read back in the order it was written).
  const sorted = [...items].sort((a, b) =>
    a.reading.event_id < b.reading.event_id ? -1 : a.reading.event_id > b.reading.event_id ? 1 : 0,
  );
  await copyRows(client, `COPY readings_stage (${COLUMNS}) FROM STDIN`, copyText(sorted));
  const { rows } = await client.query<{ event_id: string }>(
    `INSERT INTO readings (${COLUMNS})
     SELECT ${COLUMNS} FROM readings_stage
     ON CONFLICT (event_id, event_time) DO NOTHING
     RETURNING event_id`,
  );
  return new Set(rows.map((r) => r.event_id));
}

/** COPY text format: tab-separated columns, `\N` for NULL, backslash escapes in text (NUL is refused at the edge). */
function copyText(items: readonly StoredReadingInput[]): string {
  let out = '';
  for (const { reading: r, taskId } of items) {
    out +=
      `${r.event_id}\t${esc(r.device_id)}\t${esc(r.metric)}\t${r.event_time}\t${r.value}\t${nullable(r.unit)}\t` +
      `${nullable(r.site)}\t${nullable(r.region)}\t${nullable(r.firmware)}\t${r.schema_version}\t` +
      `${r.sequence_id ?? '\\N'}\t${esc(taskId)}\n`;
  }
  return out;
}

const SPECIAL = /[\\\t\n\r]/;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const esc = (v: string) => (SPECIAL.test(v) ? v.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]!) : v);
const nullable = (v: string | null) => (v === null ? '\\N' : esc(v));

async function copyRows(client: pg.PoolClient, sql: string, text: string): Promise<void> {
  const stream = client.query(copyFrom(sql));
  await pipeline(Readable.from([text]), stream);
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
