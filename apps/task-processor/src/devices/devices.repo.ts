import type pg from 'pg';
import { isoUtc } from '../store/sql-time.js';
import { textArrayLiteral } from '../store/pg-array.js';
import type { DevicesSeen } from './devices-seen.js';

/** A device as the API shows it. */
export interface DeviceRow {
  device_id: string;
  site: string | null;
  region: string | null;
  firmware: string | null;
  model: string | null;
  labels: Record<string, string>;
  first_seen: string | null;
  last_seen: string | null;
}

/** What DEVICE_METADATA_FILE says of a device. */
export interface DeviceMetadata {
  deviceId: string;
  model: string | null;
  labels: Record<string, string>;
}

/**
 * Records the devices of readings just stored, as a fold gathered them (DevicesSeen), in the folding transaction:
 * each device's event-time span, and the site, region and firmware of its newest reading. A row changes only when
 * something moved — a newer label, an earlier first reading, a last reading a minute or more newer — so a steady
 * stream does not rewrite every device row on every fold. Rows are locked in device-id order, the same on every
 * replica (no deadlock between them). Returns the rows written.
 */
export async function writeDevicesSeen(client: pg.PoolClient, seen: DevicesSeen): Promise<number> {
  if (seen.size === 0) return 0;
  const of = seen.sorted();
  // Labels follow the newest reading: taken only from a batch reaching at least as far as the row does.
  const newer = '(d.last_seen IS NULL OR EXCLUDED.last_seen >= d.last_seen)';
  const { rowCount } = await client.query(
    `INSERT INTO devices AS d (device_id, site, region, firmware, first_seen, last_seen)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[])
     ON CONFLICT (device_id) DO UPDATE SET
       site = CASE WHEN ${newer} THEN COALESCE(EXCLUDED.site, d.site) ELSE d.site END,
       region = CASE WHEN ${newer} THEN COALESCE(EXCLUDED.region, d.region) ELSE d.region END,
       firmware = CASE WHEN ${newer} THEN COALESCE(EXCLUDED.firmware, d.firmware) ELSE d.firmware END,
       first_seen = LEAST(d.first_seen, EXCLUDED.first_seen),
       last_seen = GREATEST(d.last_seen, EXCLUDED.last_seen),
       updated_at = now()
     WHERE d.first_seen IS NULL
        OR EXCLUDED.first_seen < d.first_seen
        OR EXCLUDED.last_seen >= d.last_seen + interval '1 minute'
        OR (EXCLUDED.last_seen >= d.last_seen
            AND (COALESCE(EXCLUDED.site, d.site), COALESCE(EXCLUDED.region, d.region),
                 COALESCE(EXCLUDED.firmware, d.firmware)) IS DISTINCT FROM (d.site, d.region, d.firmware))`,
    [
      textArrayLiteral(of.map(([id]) => id)),
      textArrayLiteral(of.map(([, d]) => d.site)),
      textArrayLiteral(of.map(([, d]) => d.region)),
      textArrayLiteral(of.map(([, d]) => d.firmware)),
      textArrayLiteral(of.map(([, d]) => new Date(d.first).toISOString())),
      textArrayLiteral(of.map(([, d]) => new Date(d.last).toISOString())),
    ],
  );
  return rowCount ?? 0;
}

/** Sets model and labels of the devices listed (the file is their source of truth); others keep theirs. */
export async function applyDeviceMetadata(db: pg.Pool, devices: readonly DeviceMetadata[]): Promise<number> {
  if (devices.length === 0) return 0;
  const sorted = [...devices].sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
  const { rowCount } = await db.query(
    `INSERT INTO devices AS d (device_id, model, labels)
     SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[])
     ON CONFLICT (device_id) DO UPDATE SET model = EXCLUDED.model, labels = EXCLUDED.labels, updated_at = now()
     WHERE (d.model, d.labels) IS DISTINCT FROM (EXCLUDED.model, EXCLUDED.labels)`,
    [sorted.map((d) => d.deviceId), sorted.map((d) => d.model), sorted.map((d) => JSON.stringify(d.labels))],
  );
  return rowCount ?? 0;
}

const COLUMNS = `device_id, site, region, firmware, model, labels,
  ${isoUtc('first_seen')} AS first_seen, ${isoUtc('last_seen')} AS last_seen`;

export async function getDevice(db: pg.Pool, deviceId: string): Promise<DeviceRow | null> {
  const { rows } = await db.query<DeviceRow>(`SELECT ${COLUMNS} FROM devices WHERE device_id = $1`, [deviceId]);
  return rows[0] ?? null;
}

/** Devices by id, optionally of one site and/or region, and/or carrying a label `key=value`. */
export async function listDevices(
  db: pg.Pool,
  q: { site?: string; region?: string; label?: [string, string]; limit: number; offset: number },
): Promise<{ total: number; devices: DeviceRow[] }> {
  const { rows } = await db.query<DeviceRow & { total: string }>(
    `SELECT ${COLUMNS}, count(*) OVER () AS total
       FROM devices
      WHERE ($1::text IS NULL OR site = $1) AND ($2::text IS NULL OR region = $2)
        AND ($3::jsonb IS NULL OR labels @> $3)
      ORDER BY device_id
      LIMIT $4 OFFSET $5`,
    [
      q.site ?? null,
      q.region ?? null,
      q.label ? JSON.stringify({ [q.label[0]]: q.label[1] }) : null,
      q.limit,
      q.offset,
    ],
  );
  return { total: Number(rows[0]?.total ?? 0), devices: rows.map(({ total: _total, ...d }) => d) };
}
