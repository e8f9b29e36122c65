import { z } from 'zod';
import {
  DEFAULT_UNITS,
  DeviceIdSchema,
  FIELD_LIMITS,
  InstantSchema,
  LabelSchema,
  METRIC_NAME_PATTERN,
  ValueSchema,
} from './primitives.js';
import { deriveEventId } from './event-id.js';
import { VALUE_RANGE_MESSAGE, isStorableValue } from './storable.js';
import type { Reading } from './reading.schema.js';
import { LEGACY_SCHEMA_VERSION } from './ingest-event.schema.js';

/** Keys of a gateway sample that describe the sample rather than measure something. */
const DESCRIPTIVE_KEYS = new Set([
  'device_id',
  'timestamp',
  'site',
  'location',
  'region',
  'firmware_version',
  'sequence_id',
  'event_id',
]);

/**
 * The original gateway's multi-metric sample: `device_id`, `timestamp`, and one number per metric. The known
 * metrics (temperature, humidity, pressure, voltage, current) must be numbers; any other numeric key is a metric
 * too; other non-numeric keys are ignored (liberal at the door).
 */
export const GatewaySampleSchema = z
  .object({
    device_id: DeviceIdSchema,
    timestamp: InstantSchema,
    site: LabelSchema.nullish(),
    location: LabelSchema.nullish(),
    region: LabelSchema.nullish(),
    firmware_version: LabelSchema.nullish(),
    sequence_id: z.number().int().nonnegative().nullish(),
    temperature: ValueSchema.optional(),
    humidity: ValueSchema.optional(),
    pressure: ValueSchema.optional(),
    voltage: ValueSchema.optional(),
    current: ValueSchema.optional(),
  })
  .catchall(z.unknown())
  .superRefine((sample, ctx) => {
    for (const [key, value] of Object.entries(sample)) {
      if (DESCRIPTIVE_KEYS.has(key) || typeof value !== 'number') continue;
      if (!Number.isFinite(value)) ctx.addIssue({ code: 'custom', path: [key], message: 'must be a finite number' });
      else if (!isStorableValue(value)) ctx.addIssue({ code: 'custom', path: [key], message: VALUE_RANGE_MESSAGE });
      if (key.length > FIELD_LIMITS.metricName || !METRIC_NAME_PATTERN.test(key)) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'is not a valid metric name' });
      }
    }
    if (metricEntries(sample).length === 0) {
      ctx.addIssue({ code: 'custom', path: [], message: 'a gateway sample must carry at least one numeric metric' });
    }
  });
export type GatewaySample = z.output<typeof GatewaySampleSchema>;

function metricEntries(sample: Record<string, unknown>): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const [key, value] of Object.entries(sample)) {
    if (!DESCRIPTIVE_KEYS.has(key) && typeof value === 'number') out.push([key, value]);
  }
  return out;
}

/** One reading per metric, each with a derived deterministic event_id, so a resend dedups. */
export function gatewaySampleToReadings(s: GatewaySample): Reading[] {
  return metricEntries(s).map(([metric, value]) => ({
    event_id: deriveEventId(s.device_id, metric, s.timestamp, value),
    device_id: s.device_id,
    metric,
    event_time: s.timestamp,
    value,
    unit: DEFAULT_UNITS[metric] ?? null,
    site: s.site || s.location || null,
    region: s.region || null,
    firmware: s.firmware_version || null,
    schema_version: LEGACY_SCHEMA_VERSION,
    sequence_id: s.sequence_id ?? null,
  }));
}
