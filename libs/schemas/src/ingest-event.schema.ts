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

/**
 * The original HTTP ingest payload (the C++ load tests): `type` names the sensor kind. `priority` is accepted and
 * ignored here: the task that carries the reading has its own priority.
 */
export const IngestEventSchema = z.object({
  event_id: EventIdSchema.optional(),
  device_id: DeviceIdSchema,
  type: MetricNameSchema,
  value: ValueSchema,
  unit: UnitSchema.nullish(),
  priority: z.union([z.string().max(16), z.number()]).optional(),
  timestamp: InstantSchema,
  metadata: z
    .object({
      location: LabelSchema.nullish(),
      firmware_version: LabelSchema.nullish(),
      region: LabelSchema.nullish(),
    })
    .nullish(),
  sequence_id: z.number().int().nonnegative().nullish(),
});
export type IngestEvent = z.output<typeof IngestEventSchema>;

/** Shapes without a schema_version of their own are version 1 (the original C++ TelemetryHub). */
export const LEGACY_SCHEMA_VERSION = 1;

export function ingestEventToReading(e: IngestEvent): Reading {
  return {
    event_id: e.event_id ? normalizeEventId(e.event_id) : deriveEventId(e.device_id, e.type, e.timestamp, e.value),
    device_id: e.device_id,
    metric: e.type,
    event_time: e.timestamp,
    value: e.value,
    unit: canonicalUnit(e.unit),
    site: e.metadata?.location || null,
    region: e.metadata?.region || null,
    firmware: e.metadata?.firmware_version || null,
    schema_version: LEGACY_SCHEMA_VERSION,
    sequence_id: e.sequence_id ?? null,
  };
}
