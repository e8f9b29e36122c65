import { v5 as uuidv5, validate as isUuid } from 'uuid';

/** Namespace of TelemetryHub's derived ids (uuid v5). Changing it would break dedup of resent readings. */
export const TELEMETRYHUB_NAMESPACE = '9b3c5c1e-4d4f-5f8a-9a57-2f0d6c7e1a42';

/**
 * The idempotency key of a reading that arrived without one: derived from what the reading *is* (device, metric,
 * event time, value), never random, so a resend of the same reading dedups in PostgreSQL.
 */
export function deriveEventId(device: string, metric: string, eventTime: string, value: number): string {
  return uuidv5(`${device}\u0000${metric}\u0000${eventTime}\u0000${value}`, TELEMETRYHUB_NAMESPACE);
}

/**
 * Producers may send any string as `event_id`; inside, every id is a UUID (16 bytes in PostgreSQL). A UUID is
 * kept (lower-cased), anything else is mapped to a deterministic v5 UUID of the string.
 */
export function normalizeEventId(id: string): string {
  return isUuid(id) ? id.toLowerCase() : uuidv5(`id\u0000${id}`, TELEMETRYHUB_NAMESPACE);
}
