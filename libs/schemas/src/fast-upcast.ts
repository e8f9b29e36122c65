import {
  EPOCH_MS_THRESHOLD,
  FIELD_LIMITS,
  METRIC_NAME_PATTERN,
  canonicalInstantMs,
  canonicalUnit,
} from './primitives.js';
import { deriveEventId, normalizeEventId } from './event-id.js';
import type { Reading } from './reading.schema.js';
import { isStorableTime, isStorableValue, storableTextIssue } from './storable.js';
import type { EventShape } from './event-shape.js';
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

function trimmed(v: unknown, max: number): Field<string> {
  if (typeof v !== 'string') return UNSURE;
  const t = v.trim();
  return t.length >= 1 && t.length <= max && storableTextIssue(t) === undefined ? t : UNSURE;
}

function metricName(v: unknown): Field<string> {
  const t = trimmed(v, FIELD_LIMITS.metricName);
  return t !== UNSURE && METRIC_NAME_PATTERN.test(t) ? t : UNSURE;
}

/** A label (site, region, firmware): absent or blank → null. */
function label(v: unknown): Field<string | null> {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') return UNSURE;
  const t = v.trim();
  return t.length <= FIELD_LIMITS.label && storableTextIssue(t) === undefined ? t || null : UNSURE;
}

function unit(v: unknown): Field<string | null> {
  if (v === undefined || v === null) return null;
  return typeof v === 'string' && v.length <= FIELD_LIMITS.unit && storableTextIssue(v) === undefined
    ? canonicalUnit(v)
    : UNSURE;
}

/**
 * The canonical spelling (what toISOString gives) as it is, the same without milliseconds, and epoch numbers
 * converted as the schema does; every other spelling goes through the schema.
 */
function instant(v: unknown): Field<string> {
  if (typeof v === 'string') {
    const ms = canonicalInstantMs(v);
    if (ms !== undefined) return isStorableTime(ms) ? v : UNSURE;
    if (v.length === 20 && v.charCodeAt(19) === 90 /* Z */) {
      const withMs = `${v.slice(0, 19)}.000Z`;
      const msOf = canonicalInstantMs(withMs);
      if (msOf !== undefined && isStorableTime(msOf)) return withMs;
    }
    return UNSURE;
  }
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return UNSURE;
  const ms = v < EPOCH_MS_THRESHOLD ? v * 1000 : v;
  return isStorableTime(ms) ? new Date(ms).toISOString() : UNSURE;
}

function value(v: unknown): Field<number> {
  return typeof v === 'number' && isStorableValue(v) ? v : UNSURE;
}

function sequenceId(v: unknown): Field<number | null> {
  if (v === undefined || v === null) return null;
  return Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : UNSURE;
}

function schemaVersion(v: unknown, dflt: number): Field<number> {
  if (v === undefined) return dflt;
  return Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= 1000 ? (v as number) : UNSURE;
}

/** A producer id of 1–128 characters, normalised; absent → undefined when `optional` (derived later), else unsure. */
function eventId(v: unknown, optional: boolean): Field<string | undefined> {
  if (v === undefined) return optional ? undefined : UNSURE;
  return typeof v === 'string' &&
    v.length >= 1 &&
    v.length <= FIELD_LIMITS.eventId &&
    storableTextIssue(v) === undefined
    ? normalizeEventId(v)
    : UNSURE;
}

function fastReading(o: Record<string, unknown>): Reading | undefined {
  return fastReadingOf(
    o.event_id,
    o.device_id,
    o.metric,
    o.event_time,
    o.value,
    o.unit,
    o.site,
    o.region,
    o.firmware,
    o.schema_version,
    o.sequence_id,
  );
}

/**
 * The internal reading form read from its fields' raw values (absent = undefined), for a shape that does not keep
 * a reading in one object (the columnar payload); undefined when the schema must judge it.
 */
export function fastReadingOf(
  eventIdValue: unknown,
  deviceValue: unknown,
  metricValue: unknown,
  timeValue: unknown,
  valueValue: unknown,
  unitValue: unknown,
  siteValue: unknown,
  regionValue: unknown,
  firmwareValue: unknown,
  versionValue: unknown,
  sequenceValue: unknown,
): Reading | undefined {
  return assemble(
    deviceValue,
    metricValue,
    timeValue,
    valueValue,
    unitValue,
    sequenceValue,
    eventId(eventIdValue, false),
    label(siteValue),
    label(regionValue),
    label(firmwareValue),
    schemaVersion(versionValue, 3),
  );
}

function fastEventV2(o: Record<string, unknown>): Reading | undefined {
  const id = eventId(o.event_id, true);
  const version = schemaVersion(o.schema_version, 2);
  return assemble(
    o.device_id,
    o.sensor_type,
    o.event_time,
    o.value,
    o.unit,
    o.sequence_id,
    id,
    label(o.site),
    label(o.region),
    label(o.firmware_version),
    version,
  );
}

const NO_METADATA: Readonly<Record<string, unknown>> = Object.freeze({});

/** The original ingest shape: labels under `metadata`, `priority` checked and ignored, no schema_version of its own. */
function fastIngestEvent(o: Record<string, unknown>): Reading | undefined {
  const p = o.priority;
  const priorityOk =
    p === undefined || (typeof p === 'string' && p.length <= 16) || (typeof p === 'number' && Number.isFinite(p));
  const meta = o.metadata;
  if (!priorityOk || (meta !== undefined && meta !== null && (typeof meta !== 'object' || Array.isArray(meta)))) {
    return undefined;
  }
  const m = (meta ?? NO_METADATA) as Record<string, unknown>;
  const id = eventId(o.event_id, true);
  const site = label(m.location);
  const region = label(m.region);
  const firmware = label(m.firmware_version);
  return assemble(
    o.device_id,
    o.type,
    o.timestamp,
    o.value,
    o.unit,
    o.sequence_id,
    id,
    site,
    region,
    firmware,
    LEGACY_SCHEMA_VERSION,
  );
}

/**
 * The fields every single-reading shape checks the same way (device, metric, time, value, unit, sequence) as raw
 * values, with the ones each shape reads its own way already checked; one object literal for every shape, so the
 * fast path's readings share one hidden class.
 */
function assemble(
  deviceField: unknown,
  metricField: unknown,
  timeField: unknown,
  valueField: unknown,
  unitField: unknown,
  sequenceField: unknown,
  id: Field<string | undefined>,
  site: Field<string | null>,
  region: Field<string | null>,
  firmware: Field<string | null>,
  version: Field<number>,
): Reading | undefined {
  const device = trimmed(deviceField, FIELD_LIMITS.deviceId);
  const metric = metricName(metricField);
  const time = instant(timeField);
  const v = value(valueField);
  const u = unit(unitField);
  const seq = sequenceId(sequenceField);
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
