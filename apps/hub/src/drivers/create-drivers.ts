import type { Logger } from 'pino';
import type { SensorDriver } from './sensor-driver.js';
import type { DeviceRegistry } from '../control/device-registry.js';
import type { DriverMetrics } from './driver-metrics.js';
import type { DevicesFile } from './devices-file.js';
import { SimulatedDriver } from './simulated-driver.js';
import { SerialDriver } from './serial-driver.js';
import { I2CDriver, type I2CDeviceSpec } from './i2c-driver.js';

export interface DriverDeps {
  control: DeviceRegistry;
  metrics: DriverMetrics;
  log: Logger;
  /** Labels for devices whose entry sets none. */
  site: string;
  region: string;
}

/**
 * One driver per kind of link (a simulated group each; all serial devices in one driver; all I2C devices in one),
 * with every device registered in `control` so that it has a state before its first read.
 */
export function createDrivers(file: DevicesFile, deps: DriverDeps): Array<SensorDriver & { deviceIds: string[] }> {
  const drivers: Array<SensorDriver & { deviceIds: string[] }> = [];
  const labels = <T extends { site?: string | undefined; region?: string | undefined; firmware?: string | undefined }>(
    d: T,
  ) => ({ site: d.site ?? deps.site, region: d.region ?? deps.region, firmware: d.firmware ?? null });

  for (const d of file.devices) {
    if (d.driver !== 'simulated') continue;
    drivers.push(
      new SimulatedDriver({
        control: deps.control,
        devices: d.count,
        idPrefix: d.idPrefix,
        rateHz: d.rateHz,
        metrics: d.metrics,
        site: d.site ?? deps.site,
        region: d.region ?? deps.region,
        faultRate: d.faultRate,
        commFailureAfter: d.commFailureAfter,
        anomalies: d.anomalies,
        onAnomaly: (kind) => deps.metrics.simulatedAnomalies.inc({ kind }),
        ...(d.seed !== undefined ? { seed: d.seed } : {}),
      }),
    );
  }
  const serial = file.devices.flatMap((d) =>
    d.driver === 'serial'
      ? [
          {
            ...labels(d),
            id: d.id,
            port: d.port,
            baudRate: d.baudRate,
            format: d.format,
            metrics: d.metrics ?? [],
            ...(d.units ? { units: d.units } : {}),
            ...(d.sentence ? { sentence: d.sentence } : {}),
            ...(d.separator ? { separator: d.separator } : {}),
          },
        ]
      : [],
  );
  if (serial.length) {
    drivers.push(
      new SerialDriver({
        devices: serial,
        control: deps.control,
        metrics: deps.metrics,
        log: deps.log.child({ component: 'serial' }),
      }),
    );
  }
  const i2c = file.devices.flatMap((d): I2CDeviceSpec[] =>
    d.driver === 'i2c'
      ? [
          {
            ...labels(d),
            id: d.id,
            bus: d.bus,
            address: d.address,
            sensor: d.sensor,
            periodMs: d.periodMs,
            ...(d.units ? { units: d.units } : {}),
          },
        ]
      : [],
  );
  if (i2c.length) {
    drivers.push(
      new I2CDriver({
        devices: i2c,
        control: deps.control,
        metrics: deps.metrics,
        log: deps.log.child({ component: 'i2c' }),
      }),
    );
  }
  for (const driver of drivers) for (const id of driver.deviceIds) deps.control.register(id);
  return drivers;
}
