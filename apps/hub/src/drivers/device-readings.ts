import { DEFAULT_UNITS, INTERNAL_SCHEMA_VERSION, newEventId, type Reading } from '@telemetryhub/schemas';

/** Who a physical (or simulated) device is: what every reading it produces is labelled with. */
export interface DeviceIdentity {
  id: string;
  site: string;
  region: string;
  firmware: string | null;
  /** Unit per metric; metrics not listed take the default unit of their name (temperature → C, …) or none. */
  units?: Readonly<Record<string, string>>;
}

/** One sample of a device (a value per metric, read at one instant) as readings in the internal form. */
export function readingsOf(
  device: DeviceIdentity,
  values: ReadonlyArray<readonly [metric: string, value: number]>,
  sequence: number,
  eventTime: string,
): Reading[] {
  return values.map(([metric, value]) => ({
    event_id: newEventId(),
    device_id: device.id,
    metric,
    event_time: eventTime,
    value,
    unit: device.units?.[metric] ?? DEFAULT_UNITS[metric] ?? null,
    site: device.site,
    region: device.region,
    firmware: device.firmware,
    schema_version: INTERNAL_SCHEMA_VERSION,
    sequence_id: sequence,
  }));
}
