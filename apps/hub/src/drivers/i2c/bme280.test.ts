import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bme280, compensateBme280, parseBme280Calibration, type Bme280Calibration } from './bme280.js';
import { FakeI2CBus } from './fake-bus.test-support.js';

/**
 * Temperature and pressure trimming and raw values: the worked example of Bosch's BMP280 datasheet (section 3.12),
 * whose compensation the BME280 shares: 25.08 °C and 100653.27 Pa. Humidity trimming: one real BME280's.
 */
const calibration: Bme280Calibration = {
  T1: 27504,
  T2: 26435,
  T3: -1000,
  P1: 36477,
  P2: -10685,
  P3: 3024,
  P4: 2855,
  P5: 140,
  P6: -7,
  P7: 15500,
  P8: -14600,
  P9: 6000,
  H1: 75,
  H2: 360,
  H3: 0,
  H4: 325,
  H5: 50,
  H6: 30,
};
const raw = { adcT: 519888, adcP: 415148, adcH: 30000 };

/** The datasheet's 32-bit fixed-point humidity formula (section 4.2.3): an independent check of the float one. */
function humidityInt32(adcH: number, c: Bme280Calibration, tFine: number): number {
  let v = tFine - 76800;
  v =
    (((adcH << 14) - (c.H4 << 20) - c.H5 * v + 16384) >> 15) *
    (((((((v * c.H6) >> 10) * (((v * c.H3) >> 11) + 32768)) >> 10) + 2097152) * c.H2 + 8192) >> 14);
  v = v - (((((v >> 15) * (v >> 15)) >> 7) * c.H1) >> 4);
  v = Math.min(419430400, Math.max(0, v));
  return (v >> 12) / 1024;
}

/** The registers a real sensor holds for this calibration and these raw values (datasheet tables 16 and 18). */
function registers(c: Bme280Calibration, r: typeof raw) {
  const b1 = Buffer.alloc(26);
  b1.writeUInt16LE(c.T1, 0);
  b1.writeInt16LE(c.T2, 2);
  b1.writeInt16LE(c.T3, 4);
  [c.P1].forEach((v) => b1.writeUInt16LE(v, 6));
  [c.P2, c.P3, c.P4, c.P5, c.P6, c.P7, c.P8, c.P9].forEach((v, i) => b1.writeInt16LE(v, 8 + 2 * i));
  b1[25] = c.H1;
  const b2 = Buffer.alloc(7);
  b2.writeInt16LE(c.H2, 0);
  b2[2] = c.H3;
  b2.writeInt8(c.H4 >> 4, 3);
  b2[4] = ((c.H5 & 0x0f) << 4) | (c.H4 & 0x0f);
  b2.writeInt8(c.H5 >> 4, 5);
  b2.writeInt8(c.H6, 6);
  const data = Buffer.from([
    r.adcP >> 12,
    (r.adcP >> 4) & 0xff,
    (r.adcP & 0xf) << 4,
    r.adcT >> 12,
    (r.adcT >> 4) & 0xff,
    (r.adcT & 0xf) << 4,
    r.adcH >> 8,
    r.adcH & 0xff,
  ]);
  return { b1, b2, data };
}

test('compensates temperature and pressure to the datasheet’s worked example', () => {
  const v = compensateBme280(raw, calibration);
  assert.equal(Math.round(v.temperature * 100) / 100, 25.08);
  assert.equal(Math.round(v.pressurePa * 100) / 100, 100653.27);
});

test('compensates humidity as the datasheet’s fixed-point formula does, within its resolution', () => {
  const tFine = 128793.1787 + -2066.6395; // the datasheet example's t_fine (its var1 + var2)
  for (const adcH of [20000, 26000, 30000, 34000, 40000]) {
    const h = compensateBme280({ ...raw, adcH }, calibration).humidity;
    assert.ok(Math.abs(h - humidityInt32(adcH, calibration, Math.round(tFine))) < 0.05, `adcH=${adcH}: ${h}`);
  }
  assert.equal(compensateBme280({ ...raw, adcH: 0 }, calibration).humidity, 0, 'clamped at 0 %');
  assert.equal(compensateBme280({ ...raw, adcH: 65535 }, calibration).humidity, 100, 'clamped at 100 %');
});

test('unpacks the 12-bit signed H4 and H5 that share register 0xE5', () => {
  for (const [H4, H5] of [
    [325, 50],
    [-7, -2048],
    [2047, -1],
  ] as const) {
    const { b1, b2 } = registers({ ...calibration, H4, H5 }, raw);
    const parsed = parseBme280Calibration(b1, b2);
    assert.deepEqual([parsed.H4, parsed.H5], [H4, H5]);
  }
});

test('reads a sample from the registers: forced mode, then hPa and % from raw values', async () => {
  const { b1, b2, data } = registers(calibration, raw);
  const bus = new FakeI2CBus()
    .setRegisters(0x76, 0xd0, [0x60])
    .setRegisters(0x76, 0x88, b1)
    .setRegisters(0x76, 0xe1, b2)
    .setRegisters(0x76, 0xf3, [0])
    .setRegisters(0x76, 0xf7, data);
  const sensor = new Bme280(bus, 0x76);
  await sensor.init();
  const values = Object.fromEntries(await sensor.read());
  assert.equal(values.temperature, 25.08);
  assert.equal(values.pressure, 1006.53);
  const expectedHumidity = compensateBme280(raw, calibration).humidity;
  assert.equal(values.humidity, Math.round(expectedHumidity * 100) / 100);
  assert.deepEqual(
    bus.writes.map((w) => [w.register, w.bytes[0]]),
    [
      [0xf2, 0x01],
      [0xf4, 0x25],
    ],
    'humidity oversampling first, then ctrl_meas in forced mode',
  );
});

test('refuses a chip that is not a BME280, naming a BMP280', async () => {
  const bus = new FakeI2CBus().setRegisters(0x77, 0xd0, [0x58]);
  await assert.rejects(new Bme280(bus, 0x77).init(), /chip id 0x58 at 0x77 is not a BME280 \(a BMP280/);
});
