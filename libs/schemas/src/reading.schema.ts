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
import { normalizeEventId } from './event-id.js';

/**
 * The one internal event form. Every shape producers send is upcast to this before any handler sees it; the hub
 * also publishes readings in this form (`schema_version` keeps the version of the shape it came from).
 */
export const ReadingSchema = z.object({
  event_id: EventIdSchema.transform(normalizeEventId),
  device_id: DeviceIdSchema,
  metric: MetricNameSchema,
  event_time: InstantSchema,
  value: ValueSchema,
  unit: UnitSchema.nullish().transform((u) => canonicalUnit(u)),
  site: LabelSchema.nullish().transform((v) => v || null),
  region: LabelSchema.nullish().transform((v) => v || null),
  firmware: LabelSchema.nullish().transform((v) => v || null),
  schema_version: z.number().int().min(1).max(1000).default(3),
  /** Per-device counter set by the hub's drivers, so gaps are visible downstream. */
  sequence_id: z
    .number()
    .int()
    .nonnegative()
    .nullish()
    .transform((v) => v ?? null),
});
export type Reading = z.output<typeof ReadingSchema>;
/** What a producer may write for a reading in the internal form (before normalisation). */
export type ReadingInput = z.input<typeof ReadingSchema>;

/** Schema version stamped on readings produced natively in the internal form. */
export const INTERNAL_SCHEMA_VERSION = 3;
