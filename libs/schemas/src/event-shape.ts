/* Which of the accepted event shapes an object is: read by the full validation (upcast.ts) and its fast path. */

export type EventShape = 'reading' | 'event-v2' | 'ingest' | 'gateway-sample';

/**
 * Tells the shape of one event by its keys, so that validation errors name the fields of *that* shape rather
 * than a union's guesses. Order matters: the internal form also has `event_time`, the ingest form also has
 * `timestamp`.
 */
export function detectShape(o: Record<string, unknown>): EventShape | null {
  if ('metric' in o) return 'reading';
  if ('sensor_type' in o || 'event_time' in o) return 'event-v2';
  if ('type' in o && 'value' in o) return 'ingest';
  if ('device_id' in o && 'timestamp' in o) return 'gateway-sample';
  return null;
}
