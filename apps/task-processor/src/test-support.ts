import type { Reading } from '@telemetryhub/common';

/** A reading in the internal form for unit tests: the fields a test cares about, the rest empty. */
export function testReading(
  r: Pick<Reading, 'device_id' | 'metric' | 'event_time' | 'value'> & Partial<Reading>,
): Reading {
  return {
    event_id: `${r.device_id}|${r.metric}|${r.event_time}`,
    unit: null,
    site: null,
    region: null,
    firmware: null,
    schema_version: 3,
    sequence_id: null,
    ...r,
  };
}
