import { type FieldIssue, formatPath } from '@telemetryhub/service-kit';
import { INTERNAL_SCHEMA_VERSION, type Reading } from './reading.schema.js';

/**
 * The columnar payload: `{"columns": {"event_id": [...], "device_id": [...], ...}}`, one array per field of the
 * internal reading form, reading `i` made of every column's `i`-th value. What the hub publishes: a reading in
 * rows repeats its eleven keys and its nulls (`"unit":null,"site":null,…`) — about 245 bytes a reading, against
 * about 95 in columns — and every byte is serialised, pushed, held in Redis, fetched and parsed again, and
 * JSON.parse makes an object per reading of rows where it makes eleven arrays per task of columns.
 */
export const READING_COLUMNS = [
  'event_id',
  'device_id',
  'metric',
  'event_time',
  'value',
  'unit',
  'site',
  'region',
  'firmware',
  'schema_version',
  'sequence_id',
] as const satisfies ReadonlyArray<keyof Reading>;
export type ReadingColumn = (typeof READING_COLUMNS)[number];

/** The fields a reading may leave at a default, and those defaults: a left-out column stands for its default. */
export const READING_DEFAULTS = {
  unit: null,
  site: null,
  region: null,
  firmware: null,
  schema_version: INTERNAL_SCHEMA_VERSION,
  sequence_id: null,
} as const satisfies Partial<Reading>;
const DEFAULT_OF: Partial<Record<ReadingColumn, unknown>> = READING_DEFAULTS;

/** Columns every columnar payload must carry: those without a default. */
export const REQUIRED_COLUMNS: readonly ReadingColumn[] = READING_COLUMNS.filter((name) => !(name in DEFAULT_OF));

export type ReadingColumns = { [K in ReadingColumn]?: Array<Reading[K]> };
export interface ColumnsPayload {
  columns: ReadingColumns;
}

/** Readings as a columnar payload, leaving out every optional column whose values are all its default. */
export function toColumns(readings: readonly Reading[]): ColumnsPayload {
  const columns: ReadingColumns = {};
  for (const name of READING_COLUMNS) {
    const dflt = DEFAULT_OF[name];
    const values = new Array<unknown>(readings.length);
    let needed = !(name in DEFAULT_OF);
    for (let i = 0; i < readings.length; i++) {
      const v = readings[i]![name];
      values[i] = v;
      if (v !== dflt) needed = true;
    }
    if (needed) (columns as Record<string, unknown[]>)[name] = values;
  }
  return { columns };
}

/** A payload in the columnar shape (judged by its key; whether its columns are sound is `readColumns`'s). */
export function isColumnsPayload(input: unknown): input is { columns: unknown } {
  return typeof input === 'object' && input !== null && !Array.isArray(input) && 'columns' in input;
}

/** The columns of a sound columnar payload, by name; a left-out column is absent. */
export type ColumnArrays = Partial<Record<ReadingColumn, unknown[]>>;

/**
 * Whether a columnar payload's columns can be read as readings at all: an object, the required columns present,
 * every known column an array, all of one length. Returns the columns and their length, or the issue naming the
 * column (`payload.columns.value`) — a payload that fails here is refused whole, as a batch that is not a list.
 * Unknown columns are ignored, as unknown keys of a reading are.
 */
export function readColumns(
  payload: { columns: unknown },
  prefix: string,
): { columns: ColumnArrays; length: number } | { issue: FieldIssue } {
  const at = (...path: PropertyKey[]) => formatPath(['columns', ...path], prefix);
  const c = payload.columns;
  if (typeof c !== 'object' || c === null || Array.isArray(c)) {
    return { issue: { path: at(), message: 'must be an object of arrays, one per field of a reading' } };
  }
  const columns: ColumnArrays = {};
  let length = -1;
  let first: ReadingColumn | undefined;
  for (const name of READING_COLUMNS) {
    const values = (c as Record<string, unknown>)[name];
    if (values === undefined) {
      if (!(name in DEFAULT_OF)) return { issue: { path: at(name), message: 'is required' } };
      continue;
    }
    if (!Array.isArray(values)) return { issue: { path: at(name), message: 'must be an array' } };
    if (first === undefined) {
      first = name;
      length = values.length;
    } else if (values.length !== length) {
      const message = `holds ${values.length} values where ${at(first)} holds ${length}: every column must be as long as the others`;
      return { issue: { path: at(name), message } };
    }
    columns[name] = values;
  }
  return { columns, length };
}

/** Reading `i` of sound columns as one object in the internal form, unvalidated: for the schemas and the DLQ. */
export function columnRow(columns: ColumnArrays, i: number): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const name of READING_COLUMNS) {
    const values = columns[name];
    if (values !== undefined) row[name] = values[i];
  }
  return row;
}

/**
 * Readings back from columns this process's own code made with `toColumns` (a decode thread handing its readings
 * to the main thread), without judging them again: for anything else, parseEvents.
 */
export function readingsFromColumns(c: ReadingColumns): Reading[] {
  const n = c.event_id?.length ?? 0;
  const out = new Array<Reading>(n);
  for (let i = 0; i < n; i++) {
    out[i] = {
      event_id: c.event_id![i]!,
      device_id: c.device_id![i]!,
      metric: c.metric![i]!,
      event_time: c.event_time![i]!,
      value: c.value![i]!,
      unit: c.unit ? c.unit[i]! : READING_DEFAULTS.unit,
      site: c.site ? c.site[i]! : READING_DEFAULTS.site,
      region: c.region ? c.region[i]! : READING_DEFAULTS.region,
      firmware: c.firmware ? c.firmware[i]! : READING_DEFAULTS.firmware,
      schema_version: c.schema_version ? c.schema_version[i]! : READING_DEFAULTS.schema_version,
      sequence_id: c.sequence_id ? c.sequence_id[i]! : READING_DEFAULTS.sequence_id,
    };
  }
  return out;
}

/** A payload as the hub builds it: readings as objects, or in columns. */
export type ReadingsPayload = { readings: readonly unknown[] } | ColumnsPayload;

/** How many readings a payload the hub builds holds, in either shape. */
export function payloadReadings(payload: ReadingsPayload): number {
  return 'readings' in payload ? payload.readings.length : (payload.columns.event_id?.length ?? 0);
}
