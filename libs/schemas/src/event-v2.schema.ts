import { z } from 'zod';
import {
  DeviceIdSchema,
  EventIdSchema,
  InstantSchema,
  LabelSchema,
  MetricNameSchema,
  UnitSchema,
  ValueSchema,
  canonicalUnit,
} from './primitives.js';
import { deriveEventId, normalizeEventId } from './event-id.js';
import type { Reading } from './reading.schema.js';

/** The streaming pipeline's v2 event: one reading, named by `sensor_type`. */
export const EventV2Schema = z.object({
  event_id: EventIdSchema.optional(),
  device_id: DeviceIdSchema,
  event_time: InstantSchema,
  sensor_type: MetricNameSchema,
  value: ValueSchema,
  unit: UnitSchema.nullish(),
  firmware_version: LabelSchema.nullish(),
  region: LabelSchema.nullish(),
  site: LabelSchema.nullish(),
  schema_version: z.number().int().min(1).max(1000).default(2),
  sequence_id: z.number().int().nonnegative().nullish(),
});
export type EventV2 = z.output<typeof EventV2Schema>;

export function eventV2ToReading(e: EventV2): Reading {
  return {
    event_id: e.event_id
      ? normalizeEventId(e.event_id)
      : deriveEventId(e.device_id, e.sensor_type, e.event_time, e.value),
    device_id: e.device_id,
    metric: e.sensor_type,
    event_time: e.event_time,
    value: e.value,
    unit: canonicalUnit(e.unit),
    site: e.site || null,
    region: e.region || null,
    firmware: e.firmware_version || null,
    schema_version: e.schema_version,
    sequence_id: e.sequence_id ?? null,
  };
}
