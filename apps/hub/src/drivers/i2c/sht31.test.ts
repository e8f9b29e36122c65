import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sht31, convertSht31, parseSht31Measurement } from './sht31.js';
import { FakeI2CBus, sht31Measurement } from './fake-bus.test-support.js';

test('converts raw words with the datasheet formulas', () => {
  assert.deepEqual(convertSht31(0, 0), { temperature: -45, humidity: 0 });
  assert.deepEqual(convertSht31(65535, 65535), { temperature: 130, humidity: 100 });
  const mid = convertSht31(0x6666, 0x8000); // 0x6666 / 65535 = 0.4 exactly
  assert.equal(mid.temperature, 25);
  assert.ok(Math.abs(mid.humidity - 50.0008) < 1e-4);
});

test('checks each word’s CRC and refuses a corrupted one', () => {
  assert.deepEqual(parseSht31Measurement(sht31Measurement(0x6666, 0x8000)), { rawT: 0x6666, rawRh: 0x8000 });
  const bad = sht31Measurement(0x6666, 0x8000);
  bad[4] = bad[4]! ^ 0x01;
  assert.throws(() => parseSht31Measurement(bad), /CRC mismatch in the humidity word/);
  assert.throws(() => parseSht31Measurement(bad.subarray(0, 4)), /expected 6 bytes, got 4/);
});

test('reads a sample: single-shot high-repeatability command, then both values', async () => {
  const bus = new FakeI2CBus().queueRead(0x44, sht31Measurement(0x6666, 0x8000));
  const sensor = new Sht31(bus, 0x44);
  await sensor.init();
  assert.deepEqual(await sensor.read(), [
    ['temperature', 25],
    ['humidity', 50],
  ]);
  assert.deepEqual(
    bus.writes.map((w) => w.bytes),
    [
      [0x30, 0xa2],
      [0x24, 0x00],
    ],
  );
});
