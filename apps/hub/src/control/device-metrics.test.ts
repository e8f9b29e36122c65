import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { ReadingSchema } from '@telemetryhub/schemas';
import { DeviceRegistry } from './device-registry.js';
import { registerDeviceMetrics } from './device-metrics.js';

async function values(registry: Registry, name: string) {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  assert.ok(metric, `${name} is registered`);
  return metric.values.map((v) => ({ labels: v.labels, value: v.value }));
}

test('device state and last-sample time are exported per device, read at scrape time', async () => {
  const registry = new Registry();
  const devices = new DeviceRegistry(2);
  devices.register('d1');
  devices.register('d2');
  registerDeviceMetrics(registry, devices);

  const idle = await values(registry, 'telemetryhub_hub_device_state');
  assert.equal(idle.length, 8, 'four states for each of two devices');
  assert.deepEqual(
    idle.filter((v) => v.value === 1).map((v) => `${v.labels.device}=${v.labels.state}`),
    ['d1=Idle', 'd2=Idle'],
  );
  assert.deepEqual(await values(registry, 'telemetryhub_hub_device_last_reading_timestamp_seconds'), []);

  devices.startAll();
  const before = Date.now() / 1000;
  devices.readSucceeded('d1', [
    ReadingSchema.parse({
      event_id: 'e1',
      device_id: 'd1',
      metric: 'temperature',
      event_time: new Date().toISOString(),
      value: 20,
    }),
  ]);
  devices.readFailed('d2', 'timeout');
  devices.readFailed('d2', 'timeout');

  const states = await values(registry, 'telemetryhub_hub_device_state');
  assert.deepEqual(
    states.filter((v) => v.value === 1).map((v) => `${v.labels.device}=${v.labels.state}`),
    ['d1=Measuring', 'd2=SafeState'],
  );
  const last = await values(registry, 'telemetryhub_hub_device_last_reading_timestamp_seconds');
  assert.equal(last.length, 1);
  assert.equal(last[0]?.labels.device, 'd1');
  assert.ok(last[0]!.value >= before - 1 && last[0]!.value <= Date.now() / 1000 + 1);
});
