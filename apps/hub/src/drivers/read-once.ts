import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Reading } from '@telemetryhub/schemas';
import { DeviceRegistry } from '../control/device-registry.js';
import { createHubMetrics } from '../metrics/hub-metrics.js';
import { createDrivers } from './create-drivers.js';
import type { DevicesFile } from './devices-file.js';

export interface ReadOnceResult {
  /** Each device's first delivery (all the metrics it read then), devices in the order of the file. */
  readings: Reading[];
  /** Devices that delivered nothing within the time allowed. */
  silent: string[];
}

/**
 * Reads every configured device once, as `telegraf --test` does: starts the drivers of `file` (nothing else — no
 * Redis, no HTTP, no spool), keeps each device's first delivery, and stops as soon as every device has delivered or
 * `timeoutMs` has passed. For checking wiring, ports, addresses and formats before running the hub.
 */
export async function readOnce(
  file: DevicesFile,
  opts: { timeoutMs: number; site: string; region: string; log: Logger },
): Promise<ReadOnceResult> {
  const control = new DeviceRegistry(Number.MAX_SAFE_INTEGER);
  const drivers = createDrivers(file, {
    control,
    metrics: createHubMetrics(new Registry()),
    log: opts.log,
    site: opts.site,
    region: opts.region,
  });
  const order = drivers.flatMap((d) => d.deviceIds);
  const first = new Map<string, Reading[]>();
  let allRead: () => void = () => {};
  const done = new Promise<void>((resolve) => (allRead = resolve));
  control.startAll();
  for (const driver of drivers) {
    driver.start((readings) => {
      for (const r of readings) {
        if (!order.includes(r.device_id)) continue;
        const got = first.get(r.device_id);
        // A device's first delivery is every metric it read at that moment (one event time).
        if (!got) first.set(r.device_id, [r]);
        else if (got[0]!.event_time === r.event_time && !got.some((g) => g.metric === r.metric)) got.push(r);
      }
      if (first.size === order.length) allRead();
    });
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, opts.timeoutMs)))]);
  clearTimeout(timer);
  await Promise.all(drivers.map((d) => d.stop()));
  return {
    readings: order.flatMap((id) => first.get(id) ?? []),
    silent: order.filter((id) => !first.has(id)),
  };
}
