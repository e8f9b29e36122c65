import { Gauge, type Registry } from 'prom-client';
import type { DeviceState } from './device-state.js';
import type { DeviceRegistry } from './device-registry.js';

const STATES: readonly DeviceState[] = ['Idle', 'Measuring', 'Error', 'SafeState'];

/**
 * Per-device gauges, read from the registry at scrape time. One series per device the hub drives (its drivers'
 * devices, a bounded set from config), never per device seen on HTTP/MQTT ingest, which would be unbounded.
 * They feed the "no data from a device" and "device in a fault state" alerts.
 */
export function registerDeviceMetrics(registry: Registry, devices: DeviceRegistry): void {
  new Gauge({
    name: 'telemetryhub_hub_device_state',
    help: "1 for the device's current state (Idle, Measuring, Error, SafeState), 0 for the others.",
    labelNames: ['device', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of devices.snapshots()) {
        for (const state of STATES) this.set({ device: d.device_id, state }, d.state === state ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'telemetryhub_hub_device_last_reading_timestamp_seconds',
    help: 'Unix time of the last reading the hub took from the device (absent until the first one).',
    labelNames: ['device'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of devices.snapshots()) {
        const at = devices.lastReadAt(d.device_id);
        if (at !== undefined) this.set({ device: d.device_id }, at / 1000);
      }
    },
  });
}
