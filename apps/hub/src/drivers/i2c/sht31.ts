import { crc8Sensirion } from '../checksums.js';
import { SensorReadError, sleep, type I2CBus, type I2CSensor } from './i2c-bus.js';

/**
 * Sensirion SHT3x (SHT30/31/35) temperature and humidity, per its datasheet: a single-shot measurement with high
 * repeatability and no clock stretching (command 0x2400), up to 15 ms, then six bytes: temperature MSB, LSB, CRC,
 * humidity MSB, LSB, CRC. Each word carries a CRC-8 that we check: a bad one is a failed read, never a value.
 */
const MEASURE_HIGH_REPEATABILITY = Buffer.from([0x24, 0x00]);
const SOFT_RESET = Buffer.from([0x30, 0xa2]);
const MEASURE_MS = 16;

/** Datasheet section 4.13: T = −45 + 175·S/(2¹⁶−1) °C, RH = 100·S/(2¹⁶−1) %. */
export function convertSht31(rawT: number, rawRh: number) {
  return { temperature: -45 + (175 * rawT) / 65535, humidity: (100 * rawRh) / 65535 };
}

/** The six measurement bytes → raw words, refusing a word whose CRC does not match. */
export function parseSht31Measurement(data: Buffer): { rawT: number; rawRh: number } {
  if (data.length !== 6) throw new SensorReadError(`expected 6 bytes, got ${data.length}`);
  for (const at of [0, 3]) {
    if (crc8Sensirion(data, at, at + 2) !== data[at + 2]) {
      throw new SensorReadError(`CRC mismatch in the ${at === 0 ? 'temperature' : 'humidity'} word`);
    }
  }
  return { rawT: data.readUInt16BE(0), rawRh: data.readUInt16BE(3) };
}

export class Sht31 implements I2CSensor {
  readonly metrics = ['temperature', 'humidity'] as const;

  constructor(
    private readonly bus: I2CBus,
    private readonly address = 0x44,
  ) {}

  async init(): Promise<void> {
    await this.bus.i2cWrite(this.address, SOFT_RESET.length, SOFT_RESET);
    await sleep(2); // soft reset takes at most 1.5 ms
  }

  async read(): Promise<Array<[string, number]>> {
    await this.bus.i2cWrite(this.address, MEASURE_HIGH_REPEATABILITY.length, MEASURE_HIGH_REPEATABILITY);
    await sleep(MEASURE_MS);
    const data = Buffer.alloc(6);
    const { bytesRead } = await this.bus.i2cRead(this.address, 6, data);
    const { rawT, rawRh } = parseSht31Measurement(data.subarray(0, bytesRead));
    const v = convertSht31(rawT, rawRh);
    return [
      ['temperature', Math.round(v.temperature * 100) / 100],
      ['humidity', Math.round(v.humidity * 100) / 100],
    ];
  }
}
