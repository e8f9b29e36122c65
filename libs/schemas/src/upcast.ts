import type { z } from 'zod';
import { type FieldIssue, ValidationError, formatPath } from '@telemetryhub/service-kit';
import { ReadingSchema, type Reading } from './reading.schema.js';
import { EventV2Schema, eventV2ToReading } from './event-v2.schema.js';
import { IngestEventSchema, ingestEventToReading } from './ingest-event.schema.js';
import { GatewaySampleSchema, gatewaySampleToReadings } from './gateway-sample.schema.js';
import { instantMs } from './primitives.js';
import { fastReadingOf, fastUpcast } from './fast-upcast.js';
import { columnRow, isColumnsPayload, readColumns, type ColumnArrays } from './reading-columns.js';
import { detectShape, type EventShape } from './event-shape.js';

/** Largest number of events one body or one task may carry: bounds the memory one input can claim. */
export const MAX_EVENTS_PER_BATCH = 10_000;

/**
 * The path of the first string (key or value) holding U+0000, which PostgreSQL refuses in text and jsonb: such
 * an event is refused at the edge with the field named, rather than failing later as a poison task.
 */
function findNul(value: unknown, depth = 0): PropertyKey[] | undefined {
  // The path is built only on the way back from a find: most events hold no NUL, and this runs for every event.
  if (typeof value === 'string') return value.includes('\u0000') ? [] : undefined;
  if (typeof value !== 'object' || value === null || depth > 32) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNul(value[i], depth + 1);
      if (found) return [i, ...found];
    }
    return undefined;
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (key.includes('\u0000')) return [key];
    const found = findNul((value as Record<string, unknown>)[key], depth + 1);
    if (found) return [key, ...found];
  }
  return undefined;
}

const UNKNOWN_SHAPE =
  'unrecognised event shape: expected a reading (metric, event_time, value), a v2 event (sensor_type, ' +
  'event_time, value), an ingest event (device_id, type, value, timestamp) or a gateway sample (device_id, ' +
  'timestamp, <metric>: number)';

function issuesOf(error: z.ZodError, prefix: string): FieldIssue[] {
  return error.issues.map((i) => ({ path: formatPath(i.path, prefix), message: i.message }));
}

export interface ParseOptions {
  /**
   * Clock-skew guard: refuse events stamped more than this far in the future (ms), so one device with a fast
   * clock cannot push event-time windows ahead and make honest data late. Default: no check.
   */
  maxFutureSkewMs?: number;
  /** What an event past that tolerance gets: refused with its time field's path (default), or its time set to now. */
  futureSkewPolicy?: FutureSkewPolicy;
  /** Told of every event past the tolerance: which device, how far ahead (ms), and what was done with it. */
  onFutureSkew?: (deviceId: string, aheadMs: number, action: 'rejected' | 'clamped') => void;
  /** Clock, for tests. */
  now?: () => number;
  /** Also return `sources`: for each reading, the index of the event it came from (the processor's splitting). */
  withSources?: boolean;
  /**
   * The caller saw the JSON text and it holds no `\u0000` escape, so no string in it can hold NUL (JSON has no
   * other way to spell one) and the per-event scan is skipped. See `jsonTextHasNoNul`.
   */
  textHasNoNul?: boolean;
}

/** True when no string parsed from this JSON text can hold U+0000 (the text has no `\u0000` escape). */
export function jsonTextHasNoNul(text: string): boolean {
  return !text.includes('\\u0000') && !text.includes('\u0000'); // the raw character is invalid JSON: belt and braces
}
export type FutureSkewPolicy = 'reject' | 'clamp';

/** The field that carries the event time in each shape, for error paths. */
const TIME_FIELD: Record<EventShape, string> = {
  reading: 'event_time',
  'event-v2': 'event_time',
  ingest: 'timestamp',
  'gateway-sample': 'timestamp',
};

/** The clock-skew guard on one upcast event: its readings as they are, clamped to now, or refused. */
function guardSkew(
  shape: EventShape,
  readings: Reading[],
  prefix: string,
  opts: ParseOptions,
): { readings: Reading[]; issues: FieldIssue[] } {
  if (opts.maxFutureSkewMs === undefined || readings.length === 0) return { readings, issues: [] };
  const now = (opts.now ?? Date.now)();
  const ahead = instantMs(readings[0]!.event_time) - now; // one event: one time for all its readings
  if (ahead <= opts.maxFutureSkewMs) return { readings, issues: [] };
  const deviceId = readings[0]!.device_id;
  if (opts.futureSkewPolicy === 'clamp') {
    opts.onFutureSkew?.(deviceId, ahead, 'clamped');
    const at = new Date(now).toISOString();
    return { readings: readings.map((r) => ({ ...r, event_time: at })), issues: [] };
  }
  opts.onFutureSkew?.(deviceId, ahead, 'rejected');
  const message = `is ${Math.round(ahead / 1000)} s in the future (tolerance ${Math.round(opts.maxFutureSkewMs / 1000)} s): check the device clock`;
  return { readings: [], issues: [{ path: formatPath([TIME_FIELD[shape]], prefix), message }] };
}

/** Upcasts one event of any accepted shape to readings, or returns the issues naming its bad fields. */
export function upcastEvent(
  input: unknown,
  prefix = '',
  opts: ParseOptions = {},
): { readings: Reading[]; issues: FieldIssue[] } {
  const result = upcastShape(input, prefix);
  if (result.issues.length || !result.shape) return result;
  return guardSkew(result.shape, result.readings, prefix, opts);
}

function upcastShape(
  input: unknown,
  prefix: string,
): { readings: Reading[]; issues: FieldIssue[]; shape?: EventShape } {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { readings: [], issues: [{ path: prefix, message: 'an event must be a JSON object' }] };
  }
  const nul = findNul(input);
  if (nul !== undefined) {
    return {
      readings: [],
      issues: [{ path: formatPath(nul, prefix), message: 'must not contain the NUL character (\\u0000)' }],
    };
  }
  const shape = detectShape(input as Record<string, unknown>);
  if (!shape) return { readings: [], issues: [{ path: prefix, message: UNKNOWN_SHAPE }] };
  const fast = fastUpcast(shape, input as Record<string, unknown>);
  if (fast) return { readings: [fast], issues: [], shape };
  const judged = upcastBySchema(shape, input, prefix);
  return judged.issues.length ? judged : { ...judged, shape };
}

/** The schemas' judgement of one event of a known shape: its readings, or issues naming its bad fields. */
export function upcastBySchema(
  shape: EventShape,
  input: unknown,
  prefix = '',
): { readings: Reading[]; issues: FieldIssue[] } {
  switch (shape) {
    case 'reading': {
      const r = ReadingSchema.safeParse(input);
      return r.success ? { readings: [r.data], issues: [] } : { readings: [], issues: issuesOf(r.error, prefix) };
    }
    case 'event-v2': {
      const r = EventV2Schema.safeParse(input);
      return r.success
        ? { readings: [eventV2ToReading(r.data)], issues: [] }
        : { readings: [], issues: issuesOf(r.error, prefix) };
    }
    case 'ingest': {
      const r = IngestEventSchema.safeParse(input);
      return r.success
        ? { readings: [ingestEventToReading(r.data)], issues: [] }
        : { readings: [], issues: issuesOf(r.error, prefix) };
    }
    case 'gateway-sample': {
      const r = GatewaySampleSchema.safeParse(input);
      return r.success
        ? { readings: gatewaySampleToReadings(r.data), issues: [] }
        : { readings: [], issues: issuesOf(r.error, prefix) };
    }
  }
}

export interface ParsedEvents {
  readings: Reading[];
  /** Issues of every bad event, each path naming the event's index and field. */
  issues: FieldIssue[];
  /** Number of events in the input (a gateway sample is one event that becomes several readings). */
  events: number;
  /** Indexes of the events that were rejected. */
  rejected: number[];
  /** The issues of each rejected event, in the order of `rejected`. */
  rejectedIssues: FieldIssue[][];
  /** With `withSources`: the index of the event each reading came from (a gateway sample gives several). */
  sources?: number[];
}

/**
 * The events of a body or payload, as parseEvents reads them and numbers them in its issues: the array, the
 * `readings` or `events` array of a batch object, or the one event. Empty when a batch object's list is no array.
 */
export function eventsOf(input: unknown): unknown[] {
  if (Array.isArray(input)) return input;
  if (isColumnsPayload(input)) {
    const read = readColumns(input, '');
    if ('issue' in read) return [];
    return Array.from({ length: read.length }, (_, i) => columnRow(read.columns, i));
  }
  if (isBatchObject(input)) {
    const value = input['readings' in input ? 'readings' : 'events'];
    return Array.isArray(value) ? value : [];
  }
  return [input];
}

/** A payload refused whole: nothing read from it, one issue naming why. */
function refused(issue: FieldIssue, events = 0): ParsedEvents {
  return { readings: [], issues: [issue], events, rejected: [], rejectedIssues: [] };
}

/** A list of this many events is refused whole when empty or past MAX_EVENTS_PER_BATCH. */
function listSizeIssue(length: number, path: string): FieldIssue | undefined {
  if (length === 0) return { path, message: 'must hold at least one event' };
  if (length <= MAX_EVENTS_PER_BATCH) return undefined;
  return { path, message: `holds ${length} events; at most ${MAX_EVENTS_PER_BATCH} are accepted in one batch` };
}

/**
 * Parses a body or task payload holding events: one event, an array of events, `{ "readings": [...] }` /
 * `{ "events": [...] }`, or readings in columns (`{ "columns": {...} }`, reading-columns.ts). Collects the issues
 * of every bad event rather than stopping at the first.
 */
export function parseEvents(input: unknown, prefix = '', opts: ParseOptions = {}): ParsedEvents {
  if (isColumnsPayload(input)) return parseColumns(input, prefix, opts);
  let listPrefix = prefix;
  const list = eventsOf(input);
  if (isBatchObject(input)) {
    const key = 'readings' in input ? 'readings' : 'events';
    listPrefix = formatPath([key], prefix);
    if (!Array.isArray(input[key])) return refused({ path: listPrefix, message: 'must be an array' });
  } else if (!Array.isArray(input)) {
    const one = upcastEvent(input, prefix, opts);
    const bad = one.issues.length > 0;
    return {
      readings: one.readings,
      issues: one.issues,
      events: 1,
      rejected: bad ? [0] : [],
      rejectedIssues: bad ? [one.issues] : [],
      ...(opts.withSources ? { sources: one.readings.map(() => 0) } : {}),
    };
  }
  const sizeIssue = listSizeIssue(list.length, listPrefix);
  if (sizeIssue) return refused(sizeIssue, list.length);
  const readings: Reading[] = [];
  const issues: FieldIssue[] = [];
  const rejected: number[] = [];
  const rejectedIssues: FieldIssue[][] = [];
  const sources: number[] | undefined = opts.withSources ? [] : undefined;
  for (let index = 0; index < list.length; index++) {
    const event = list[index];
    const fast = fastLane(event, opts);
    if (fast) {
      readings.push(fast);
      sources?.push(index);
      continue;
    }
    const one = upcastEvent(event, `${listPrefix}[${index}]`, opts);
    if (one.issues.length) {
      rejected.push(index);
      rejectedIssues.push(one.issues);
      issues.push(...one.issues);
    } else {
      readings.push(...one.readings);
      if (sources) for (let i = 0; i < one.readings.length; i++) sources.push(index);
    }
  }
  return { readings, issues, events: list.length, rejected, rejectedIssues, ...(sources ? { sources } : {}) };
}

/**
 * One plainly valid single-reading event within the clock-skew tolerance, without the intermediate results of
 * upcastEvent (five small objects per event, on the hot path of ingest); undefined sends the event the full way.
 */
function fastLane(event: unknown, opts: ParseOptions): Reading | undefined {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return undefined;
  if (!opts.textHasNoNul && findNul(event) !== undefined) return undefined;
  const shape = detectShape(event as Record<string, unknown>);
  return withinSkew(shape ? fastUpcast(shape, event as Record<string, unknown>) : undefined, opts);
}

/** The fast path's reading if the clock-skew guard lets it through as it is; else the full way decides. */
function withinSkew(reading: Reading | undefined, opts: ParseOptions): Reading | undefined {
  if (!reading || opts.maxFutureSkewMs === undefined) return reading;
  const ahead = instantMs(reading.event_time) - (opts.now ?? Date.now)();
  return ahead <= opts.maxFutureSkewMs ? reading : undefined;
}

/**
 * parseEvents of a columnar payload. Reading `i` takes the fast path straight from the columns (no object per
 * reading before the reading itself); one it is unsure of is made an object of the internal form and judged by the
 * schemas, its issues naming the column and the index (`payload.columns.value[3]`).
 */
function parseColumns(input: { columns: unknown }, prefix: string, opts: ParseOptions): ParsedEvents {
  const read = readColumns(input, prefix);
  if ('issue' in read) return refused(read.issue);
  const { columns: c, length } = read;
  const sizeIssue = listSizeIssue(length, formatPath(['columns'], prefix));
  if (sizeIssue) return refused(sizeIssue, length);
  const readings: Reading[] = [];
  const issues: FieldIssue[] = [];
  const rejected: number[] = [];
  const rejectedIssues: FieldIssue[][] = [];
  const sources: number[] | undefined = opts.withSources ? [] : undefined;
  // Without the caller's word that the text holds no NUL, every reading goes the full way, which looks for one.
  const fast = opts.textHasNoNul ? (i: number) => withinSkew(fastColumnReading(c, i), opts) : () => undefined;
  for (let i = 0; i < length; i++) {
    const reading = fast(i);
    if (reading) {
      readings.push(reading);
      sources?.push(i);
      continue;
    }
    const one = upcastEvent(columnRow(c, i), '', opts);
    if (one.issues.length) {
      const named = one.issues.map((issue) => ({
        path: columnIssuePath(issue.path, i, prefix),
        message: issue.message,
      }));
      rejected.push(i);
      rejectedIssues.push(named);
      issues.push(...named);
    } else {
      readings.push(...one.readings);
      if (sources) for (let k = 0; k < one.readings.length; k++) sources.push(i);
    }
  }
  return { readings, issues, events: length, rejected, rejectedIssues, ...(sources ? { sources } : {}) };
}

function fastColumnReading(c: ColumnArrays, i: number): Reading | undefined {
  return fastReadingOf(
    c.event_id![i],
    c.device_id![i],
    c.metric![i],
    c.event_time![i],
    c.value![i],
    c.unit?.[i],
    c.site?.[i],
    c.region?.[i],
    c.firmware?.[i],
    c.schema_version?.[i],
    c.sequence_id?.[i],
  );
}

/** An issue of reading `i` judged as a row (`value`) named where it is in the columns (`payload.columns.value[3]`). */
function columnIssuePath(rowPath: string, i: number, prefix: string): string {
  const field = /^[A-Za-z_]+/.exec(rowPath)?.[0];
  if (field === undefined) return `${formatPath(['columns'], prefix)}[${i}]`;
  return formatPath(['columns', field, i], prefix) + rowPath.slice(field.length);
}

function isBatchObject(input: unknown): input is Record<'readings' | 'events', unknown> {
  return typeof input === 'object' && input !== null && ('readings' in input || 'events' in input);
}

/** Like parseEvents, but all or nothing: any bad event throws a ValidationError naming every bad field. */
export function parseEventsStrict(input: unknown, prefix = '', opts: ParseOptions = {}): Reading[] {
  const parsed = parseEvents(input, prefix, opts);
  if (parsed.issues.length) throw new ValidationError(parsed.issues);
  return parsed.readings;
}
