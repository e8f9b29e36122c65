import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadingSchema, type Reading } from '@telemetryhub/schemas';
import { I2CDriver, I2CBusUnavailableError, type I2CDeviceSpec } from './i2c-driver.js';
import { FakeI2CBus, sht31Measurement } from './i2c/fake-bus.test-support.js';
import { DeviceRegistry } from '../control/device-registry.js';

const sht = (id: string): I2CDeviceSpec => ({
  id,
  site: 'plant-1',
  region: 'eu',
  firmware: null,
  bus: 1,
  address: 0x44,
  sensor: 'sht31',
  periodMs: 10,
});

function setup(bus: FakeI2CBus, opts: { openFails?: boolean } = {}) {
  const control = new DeviceRegistry(3);
  control.register('env-1');
  control.startAll();
  const driver = new I2CDriver({
    devices: [sht('env-1')],
    control,
    openBus: async () => {
      if (opts.openFails) throw new I2CBusUnavailableError('/dev/i2c-1: ENOENT');
      return bus;
    },
  });
  const got: Reading[] = [];
  const tick = () => driver.sampleNow('env-1', (r) => got.push(...r));
  return { control, driver, tick, got };
}

test('reads each sample into valid readings labelled with the device, numbered by sequence', async () => {
  const bus = new FakeI2CBus()
    .queueRead(0x44, sht31Measurement(0x6666, 0x8000))
    .queueRead(0x44, sht31Measurement(0x6666, 0x8000));
  const { tick, got, control } = setup(bus);
  await tick();
  await tick();
  assert.equal(got.length, 4);
  for (const r of got) assert.deepEqual(ReadingSchema.parse(r), r);
  assert.deepEqual(
    got.map((r) => [r.metric, r.value, r.unit, r.sequence_id, r.site]),
    [
      ['temperature', 25, 'C', 1, 'plant-1'],
      ['humidity', 50, '%', 1, 'plant-1'],
      ['temperature', 25, 'C', 2, 'plant-1'],
      ['humidity', 50, '%', 2, 'plant-1'],
    ],
  );
  assert.equal(control.latestSample('env-1')?.sequence_id, 2);
});

test('failed reads leave a gap in the sequence and latch SafeState after the configured count', async () => {
  const bus = new FakeI2CBus(); // nothing answers at 0x44
  const { tick, got, control } = setup(bus);
  for (let i = 0; i < 3; i++) await tick();
  assert.equal(got.length, 0);
  assert.equal(control.get('env-1')?.state, 'SafeState');
  await tick(); // not measuring: not read
  control.resetAll();
  control.startAll();
  bus.queueRead(0x44, sht31Measurement(0x6666, 0x8000));
  await tick();
  assert.deepEqual(
    got.map((r) => r.sequence_id),
    [4, 4],
    'three failed attempts and no attempt while latched',
  );
});

test('a corrupted answer is a failed read, never a value', async () => {
  const bad = sht31Measurement(0x6666, 0x8000);
  bad[1] = bad[1]! ^ 0xff;
  const { tick, got, control } = setup(new FakeI2CBus().queueRead(0x44, bad));
  await tick();
  assert.equal(got.length, 0);
  assert.match(control.get('env-1')!.snapshot().last_error ?? '', /CRC mismatch in the temperature word/);
});

test('a bus that cannot be opened is a communication failure (Error state)', async () => {
  const { tick, control } = setup(new FakeI2CBus(), { openFails: true });
  await tick();
  assert.equal(control.get('env-1')?.state, 'Error');
});

test('runs on its period after start and stops cleanly, closing the bus', async () => {
  const bus = new FakeI2CBus();
  for (let i = 0; i < 100; i++) bus.queueRead(0x44, sht31Measurement(0x6666 + i, 0x8000));
  const { driver, control } = setup(bus);
  const got: Reading[] = [];
  driver.start((r) => got.push(...r));
  while (got.length < 6) await new Promise((r) => setTimeout(r, 10));
  await driver.stop();
  const after = got.length;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(got.length, after, 'nothing after stop()');
  assert.ok(bus.closed);
  assert.equal(control.get('env-1')?.state, 'Measuring');
});

test('sampleNow names a device it does not drive', async () => {
  const { driver } = setup(new FakeI2CBus());
  await assert.rejects(
    driver.sampleNow('nope', () => {}),
    /no I2C device "nope"/,
  );
});
