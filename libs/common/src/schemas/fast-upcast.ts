import { EPOCH_MS_THRESHOLD, canonicalInstantMs, canonicalUnit } from './primitives.js';
import { deriveEventId, normalizeEventId } from './event-id.js';
import type { Reading } from './reading.schema.js';
import type { EventShape } from './upcast.js';
import { LEGACY_SCHEMA_VERSION } from './ingest-event.schema.js';

/**
 * The fast path of upcasting: the single-reading shapes (internal reading, v2 event, original ingest event) read
 * field by field, for the common case of an event that is plainly valid. It never refuses anything: whatever it is
 * not sure of (a bad field, an unusual time spelling, an epoch number) it answers `undefined`, and the zod schemas
 * judge the event as before, with their error messages. Where it answers, its reading equals the schemas' (a
 * property test holds it to that). Why: zod was a third of the hub's CPU per HTTP-ingested event.
 */
export function fastUpcast(shape: EventShape, o: Record<string, unknown>): Reading | undefined {
  switch (shape) {
    case 'reading':
      return fastReading(o);
    case 'event-v2':
      return fastEventV2(o);
    case 'ingest':
      return fastIngestEvent(o);
    default:
      return undefined; // gateway samples (several readings each) always take the schema
  }
}

/** Marks a field the fast path leaves to the schema. */
const UNSURE = Symbol('unsure');
type Field<T> = T | typeof UNSURE;

const METRIC_NAME = /^[A-Za-z0-9_.:-]+$/;

function trimmed(v: unknown, max: number): Field<string> {
  if (typeof v !== 'string') return UNSURE;
  const t = v.trim();
  return t.length >= 1 && t.length <= max ? t : UNSURE;
}

function deviceId(v: unknown): Field<string> {
  return trimmed(v, 128);
}

function metricName(v: unknown): Field<string> {
  const t = trimmed(v, 64);
  return t !== UNSURE && METRIC_NAME.test(t) ? t : UNSURE;
}

/** A label (site, region, firmware): absent or blank → null. */
function label(v: unknown): Field<string | null> {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') return UNSURE;
  const t = v.trim();
  return t.length <= 128 ? t || null : UNSURE;
}

function unit(v: unknown): Field<string | null> {
  if (v === undefined || v === null) return null;
  return typeof v === 'string' && v.length <= 32 ? canonicalUnit(v) : UNSURE;
}

/**
 * The canonical spelling (what toISOString gives) as it is, the same without milliseconds, and epoch numbers
 * converted as the schema does; every other spelling goes through the schema.
 */
function instant(v: unknown): Field<string> {
  if (typeof v === 'string') {
    if (canonicalInstantMs(v) !== undefined) return v;
    if (v.length === 20 && v.charCodeAt(19) === 90 /* Z */) {
      const withMs = `${v.slice(0, 19)}.000Z`;
      if (canonicalInstantMs(withMs) !== undefined) return withMs;
    }
    return UNSURE;
  }
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return UNSURE;
  const date = new Date(v < EPOCH_MS_THRESHOLD ? v * 1000 : v);
  return Number.isNaN(date.getTime()) ? UNSURE : date.toISOString();
}

function value(v: unknown): Field<number> {
  return typeof v === 'number' && Number.isFinite(v) ? v : UNSURE;
}

function sequenceId(v: unknown): Field<number | null> {
  if (v === undefined || v === null) return null;
  return Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : UNSURE;
}

function schemaVersion(v: unknown, dflt: number): Field<number> {
  if (v === undefined) return dflt;
  return Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= 1000 ? (v as number) : UNSURE;
}

/** An optional producer id: absent → derived from what the reading is; a string of 1–128 → normalised. */
function optionalEventId(v: unknown): Field<string | undefined> {
  if (v === undefined) return undefined;
  return typeof v === 'string' && v.length >= 1 && v.length <= 128 ? normalizeEventId(v) : UNSURE;
}

function fastReading(o: Record<string, unknown>): Reading | undefined {
  const id = o.event_id;
  if (typeof id !== 'string' || id.length < 1 || id.length > 128) return undefined;
  const device = deviceId(o.device_id);
  const metric = metricName(o.metric);
  const time = instant(o.event_time);
  const v = value(o.value);
  const u = unit(o.unit);
  const site = label(o.site);
  const region = label(o.region);
  const firmware = label(o.firmware);
  const version = schemaVersion(o.schema_version, 3);
  const seq = sequenceId(o.sequence_id);
  if (
    device === UNSURE ||
    metric === UNSURE ||
    time === UNSURE ||
    v === UNSURE ||
    u === UNSURE ||
    site === UNSURE ||
    region === UNSURE ||
    firmware === UNSURE ||
    version === UNSURE ||
    seq === UNSURE
  ) {
    return undefined;
  }
  return {
    event_id: normalizeEventId(id),
    device_id: device,
    metric,
    event_time: time,
    value: v,
    unit: u,
    site,
    region,
    firmware,
    schema_version: version,
    sequence_id: seq,
  };
}

function fastEventV2(o: Record<string, unknown>): Reading | undefined {
  const id = optionalEventId(o.event_id);
  const device = deviceId(o.device_id);
  const time = instant(o.event_time);
  const metric = metricName(o.sensor_type);
  const v = value(o.value);
  const u = unit(o.unit);
  const firmware = label(o.firmware_version);
  const region = label(o.region);
  const site = label(o.site);
  const version = schemaVersion(o.schema_version, 2);
  const seq = sequenceId(o.sequence_id);
  if (
    id === UNSURE ||
    device === UNSURE ||
    metric === UNSURE ||
    time === UNSURE ||
    v === UNSURE ||
    u === UNSURE ||
    site === UNSURE ||
    region === UNSURE ||
    firmware === UNSURE ||
    version === UNSURE ||
    seq === UNSURE
  ) {
    return undefined;
  }
  return {
    event_id: id ?? deriveEventId(device, metric, time, v),
    device_id: device,
    metric,
    event_time: time,
    value: v,
    unit: u,
    site,
    region,
    firmware,
    schema_version: version,
    sequence_id: seq,
  };
}

function fastIngestEvent(o: Record<string, unknown>): Reading | undefined {
  const id = optionalEventId(o.event_id);
  const device = deviceId(o.device_id);
  const metric = metricName(o.type);
  const v = value(o.value);
  const u = unit(o.unit);
  const time = instant(o.timestamp);
  const seq = sequenceId(o.sequence_id);
  const p = o.priority;
  const priorityOk =
    p === undefined || (typeof p === 'string' && p.length <= 16) || (typeof p === 'number' && Number.isFinite(p));
  const meta = o.metadata;
  let site: Field<string | null> = null;
  let region: Field<string | null> = null;
  let firmware: Field<string | null> = null;
  if (meta !== undefined && meta !== null) {
    if (typeof meta !== 'object' || Array.isArray(meta)) return undefined;
    const m = meta as Record<string, unknown>;
    site = label(m.location);
    region = label(m.region);
    firmware = label(m.firmware_version);
  }
  if (
    !priorityOk ||
    id === UNSURE ||
    device === UNSURE ||
    metric === UNSURE ||
    time === UNSURE ||
    v === UNSURE ||
    u === UNSURE ||
    site === UNSURE ||
    region === UNSURE ||
    firmware === UNSURE ||
    seq === UNSURE
  ) {
    return undefined;
  }
  return {
    event_id: id ?? deriveEventId(device, metric, time, v),
    device_id: device,
    metric,
    event_time: time,
    value: v,
    unit: u,
    site,
    region,
    firmware,
    schema_version: LEGACY_SCHEMA_VERSION,
    sequence_id: seq,
  };
}
