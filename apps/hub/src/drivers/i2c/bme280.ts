import { SensorReadError, readRegisters, sleep, type I2CBus, type I2CSensor } from './i2c-bus.js';

/**
 * Bosch BME280 (temperature, pressure, humidity), per its datasheet (BST-BME280-DS002): read the factory
 * calibration once, then per sample trigger one measurement in forced mode (oversampling ×1 for each quantity,
 * so the sensor sleeps between samples and does not self-heat), wait for it, read the raw values and apply the
 * datasheet's floating-point compensation formulas (section 8.1).
 */
export const BME280_CHIP_ID = 0x60;
const REG = { chipId: 0xd0, calib1: 0x88, calib2: 0xe1, ctrlHum: 0xf2, status: 0xf3, ctrlMeas: 0xf4, data: 0xf7 };
/** ctrl_meas: osrs_t ×1, osrs_p ×1, forced mode. */
const CTRL_MEAS_FORCED = (0b001 << 5) | (0b001 << 2) | 0b01;
/** The datasheet's maximum measurement time at ×1 oversampling for all three is 9.3 ms. */
const MEASURE_MS = 10;

export interface Bme280Calibration {
  T1: number;
  T2: number;
  T3: number;
  P1: number;
  P2: number;
  P3: number;
  P4: number;
  P5: number;
  P6: number;
  P7: number;
  P8: number;
  P9: number;
  H1: number;
  H2: number;
  H3: number;
  H4: number;
  H5: number;
  H6: number;
}

/** Calibration from registers 0x88–0xA1 (26 bytes) and 0xE1–0xE7 (7 bytes), as laid out in datasheet table 16. */
export function parseBme280Calibration(block1: Buffer, block2: Buffer): Bme280Calibration {
  const e4 = block2.readInt8(3);
  const e5 = block2[4]!;
  const e6 = block2.readInt8(5);
  return {
    T1: block1.readUInt16LE(0),
    T2: block1.readInt16LE(2),
    T3: block1.readInt16LE(4),
    P1: block1.readUInt16LE(6),
    P2: block1.readInt16LE(8),
    P3: block1.readInt16LE(10),
    P4: block1.readInt16LE(12),
    P5: block1.readInt16LE(14),
    P6: block1.readInt16LE(16),
    P7: block1.readInt16LE(18),
    P8: block1.readInt16LE(20),
    P9: block1.readInt16LE(22),
    H1: block1[25]!,
    H2: block2.readInt16LE(0),
    H3: block2[2]!,
    H4: (e4 * 16) | (e5 & 0x0f), // 12-bit signed: 0xE4 is its top 8 bits
    H5: (e6 * 16) | (e5 >> 4),
    H6: block2.readInt8(6),
  };
}

export interface Bme280Raw {
  adcT: number;
  adcP: number;
  adcH: number;
}

/** The raw readings from the 8 data bytes at 0xF7: pressure and temperature 20-bit, humidity 16-bit. */
export function parseBme280Data(data: Buffer): Bme280Raw {
  return {
    adcP: (data[0]! << 12) | (data[1]! << 4) | (data[2]! >> 4),
    adcT: (data[3]! << 12) | (data[4]! << 4) | (data[5]! >> 4),
    adcH: (data[6]! << 8) | data[7]!,
  };
}

/** Datasheet section 8.1: temperature in °C, pressure in Pa, relative humidity in % (clamped to 0–100). */
export function compensateBme280(raw: Bme280Raw, c: Bme280Calibration) {
  let var1 = (raw.adcT / 16384 - c.T1 / 1024) * c.T2;
  let var2 = (raw.adcT / 131072 - c.T1 / 8192) ** 2 * c.T3;
  const tFine = var1 + var2;
  const temperature = tFine / 5120;

  var1 = tFine / 2 - 64000;
  var2 = (var1 * var1 * c.P6) / 32768;
  var2 = var2 + var1 * c.P5 * 2;
  var2 = var2 / 4 + c.P4 * 65536;
  var1 = ((c.P3 * var1 * var1) / 524288 + c.P2 * var1) / 524288;
  var1 = (1 + var1 / 32768) * c.P1;
  let pressure = 0; // the datasheet's answer to a zero divisor (an unprogrammed sensor)
  if (var1 !== 0) {
    pressure = 1048576 - raw.adcP;
    pressure = ((pressure - var2 / 4096) * 6250) / var1;
    var1 = (c.P9 * pressure * pressure) / 2147483648;
    var2 = (pressure * c.P8) / 32768;
    pressure = pressure + (var1 + var2 + c.P7) / 16;
  }

  let h = tFine - 76800;
  h =
    (raw.adcH - (c.H4 * 64 + (c.H5 / 16384) * h)) *
    ((c.H2 / 65536) * (1 + (c.H6 / 67108864) * h * (1 + (c.H3 / 67108864) * h)));
  h = h * (1 - (c.H1 * h) / 524288);
  const humidity = Math.min(100, Math.max(0, h));
  return { temperature, pressurePa: pressure, humidity };
}

export class Bme280 implements I2CSensor {
  readonly metrics = ['temperature', 'pressure', 'humidity'] as const;
  private calibration: Bme280Calibration | undefined;

  constructor(
    private readonly bus: I2CBus,
    private readonly address = 0x76,
  ) {}

  async init(): Promise<void> {
    const [id] = await readRegisters(this.bus, this.address, REG.chipId, 1);
    if (id !== BME280_CHIP_ID) {
      const hint = id === 0x58 ? ' (a BMP280: no humidity; not supported)' : '';
      throw new SensorReadError(
        `chip id 0x${id!.toString(16)} at 0x${this.address.toString(16)} is not a BME280${hint}`,
      );
    }
    this.calibration = parseBme280Calibration(
      await readRegisters(this.bus, this.address, REG.calib1, 26),
      await readRegisters(this.bus, this.address, REG.calib2, 7),
    );
  }

  async read(): Promise<Array<[string, number]>> {
    if (!this.calibration) await this.init();
    // ctrl_hum only takes effect after a write to ctrl_meas, so it goes first.
    await this.bus.writeByte(this.address, REG.ctrlHum, 0b001);
    await this.bus.writeByte(this.address, REG.ctrlMeas, CTRL_MEAS_FORCED);
    await sleep(MEASURE_MS);
    for (let i = 0; i < 5; i++) {
      const [status] = await readRegisters(this.bus, this.address, REG.status, 1);
      if ((status! & 0b1000) === 0) break; // measuring bit clear
      await sleep(2);
    }
    const raw = parseBme280Data(await readRegisters(this.bus, this.address, REG.data, 8));
    if (raw.adcT === 0x80000) throw new SensorReadError('temperature skipped (raw 0x80000): sensor not measuring');
    const v = compensateBme280(raw, this.calibration!);
    return [
      ['temperature', round(v.temperature, 2)],
      ['pressure', round(v.pressurePa / 100, 2)], // hPa, the hub's unit for pressure
      ['humidity', round(v.humidity, 2)],
    ];
  }
}

function round(v: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(v * f) / f;
}
