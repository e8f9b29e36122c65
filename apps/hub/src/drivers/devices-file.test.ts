import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { ConfigError } from '@telemetryhub/service-kit';
import { loadDevicesFile, parseDevicesFile } from './devices-file.js';
import { createDrivers } from './create-drivers.js';
import { DeviceRegistry } from '../control/device-registry.js';
import { createHubMetrics } from '../metrics/hub-metrics.js';
import { devicesFromEnv, loadHubConfig } from '../config.js';

const example = fileURLToPath(new URL('../../devices.example.yaml', import.meta.url));

function problems(text: string, path = 'devices.yaml'): string[] {
  try {
    parseDevicesFile(text, path);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

test('the example file is valid and shows every driver', () => {
  const file = loadDevicesFile(example);
  assert.deepEqual([...new Set(file.devices.map((d) => d.driver))].sort(), ['i2c', 'serial', 'simulated']);
  const bme = file.devices.find((d) => d.driver === 'i2c' && d.sensor === 'bme280');
  assert.equal(bme?.driver === 'i2c' && bme.address, 0x76, 'a hex address in YAML is read as the number');
});

test('builds one driver per link kind and registers every device (drivers not started)', () => {
  const control = new DeviceRegistry(5);
  const drivers = createDrivers(loadDevicesFile(example), {
    control,
    metrics: createHubMetrics(new Registry()),
    log: pino({ level: 'silent' }),
    site: 'hub-site',
    region: 'hub-region',
  });
  assert.deepEqual(
    drivers.map((d) => d.name),
    ['simulated', 'serial', 'i2c'],
  );
  assert.deepEqual(
    control.snapshots().map((s) => s.device_id),
    [
      'sim-lab-001',
      'sim-lab-002',
      'sim-lab-003',
      'press-line1-env',
      'weather-roof',
      'motor-7-power',
      'vibration-3',
      'cabinet-4-bme',
      'cabinet-4-sht',
    ],
  );
  assert.ok(control.snapshots().every((s) => s.state === 'Idle'));
});

test('names every problem with its place in the file', () => {
  const got = problems(`
devices:
  - { driver: serial, id: a, port: /dev/ttyS0, format: csv }
  - { driver: i2c, id: b, bus: 1, address: 0x80, sensor: bme280 }
  - { driver: i2c, id: c, bus: 1, address: "76", sensor: bmp180 }
  - { driver: serial, id: a, port: /dev/ttyS1, format: json, baud: 9600 }
  - { driver: can, id: d }
`);
  const expected = [
    /^DEVICES_FILE devices\.yaml devices\[0\]\.metrics: required for format csv/,
    /^DEVICES_FILE devices\.yaml devices\[1\]\.address: must be a 7-bit address/,
    /^DEVICES_FILE devices\.yaml devices\[2\]\.address: /,
    /^DEVICES_FILE devices\.yaml devices\[2\]\.sensor: /,
    /^DEVICES_FILE devices\.yaml devices\[3\]: .*baud/,
    /^DEVICES_FILE devices\.yaml devices\[4\]\.driver: /,
  ];
  for (const re of expected)
    assert.ok(
      got.some((p) => re.test(p)),
      `${re} in:\n${got.join('\n')}`,
    );
});

test('refuses two devices with one id, also inside a simulated group', () => {
  const got = problems(`
devices:
  - { driver: simulated, count: 3 }
  - { driver: serial, id: sim-002, port: /dev/ttyS0, format: json }
`);
  assert.deepEqual(got, ['DEVICES_FILE devices.yaml devices[1]: device id sim-002 is also devices[0]']);
});

test('reads JSON with JSON’s own parser and says which format failed', () => {
  const ok = parseDevicesFile('{"devices":[{"driver":"simulated","count":1}]}', 'd.json');
  assert.equal(ok.devices[0]?.driver, 'simulated');
  assert.match(problems('{"devices": [', 'd.json')[0]!, /^DEVICES_FILE: d\.json is not valid JSON/);
  assert.match(problems('devices: [ {', 'd.yml')[0]!, /^DEVICES_FILE: d\.yml is not valid YAML/);
  assert.match(problems('devices: 3')[0]!, /devices:/);
});

test('without a file, the SIM_* variables make one simulated group (none when SIM_DEVICES=0)', () => {
  const env = { SIM_DEVICES: '4', SIM_RATE_HZ: '3', SIM_GAP_RATE: '0.5', SIM_SEED: '7' };
  const [group] = devicesFromEnv(loadHubConfig({ env })).devices;
  assert.ok(group?.driver === 'simulated');
  assert.deepEqual(
    [group.count, group.rateHz, group.anomalies.gap, group.seed, group.idPrefix],
    [4, 3, 0.5, 7, 'sim-'],
  );
  assert.deepEqual(devicesFromEnv(loadHubConfig({ env: { SIM_DEVICES: '0' } })).devices, []);
});
