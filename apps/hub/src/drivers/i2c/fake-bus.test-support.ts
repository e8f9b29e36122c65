import type { I2CBus } from './i2c-bus.js';
import { crc8Sensirion } from '../checksums.js';

/**
 * An I2C bus for tests (the machines running them have none): registers of each address hold recorded values,
 * plain reads answer from a queue, and every write is logged so a test can check the command sequence.
 */
export class FakeI2CBus implements I2CBus {
  readonly writes: Array<{ address: number; register?: number; bytes: number[] }> = [];
  readonly registers = new Map<number, Map<number, number>>();
  readonly plainReads = new Map<number, Buffer[]>();
  closed = false;

  setRegisters(address: number, start: number, bytes: Iterable<number>): this {
    const regs = this.registers.get(address) ?? new Map<number, number>();
    let r = start;
    for (const b of bytes) regs.set(r++, b);
    this.registers.set(address, regs);
    return this;
  }

  queueRead(address: number, bytes: Buffer): this {
    this.plainReads.set(address, [...(this.plainReads.get(address) ?? []), bytes]);
    return this;
  }

  async readI2cBlock(address: number, register: number, length: number, buffer: Buffer) {
    const regs = this.registers.get(address);
    if (!regs) throw Object.assign(new Error('Remote I/O error'), { code: 'EREMOTEIO' }); // no device answers
    for (let i = 0; i < length; i++) buffer[i] = regs.get(register + i) ?? 0;
    return { bytesRead: length, buffer };
  }
  async writeByte(address: number, register: number, byte: number) {
    this.writes.push({ address, register, bytes: [byte] });
  }
  async i2cWrite(address: number, length: number, buffer: Buffer) {
    this.writes.push({ address, bytes: [...buffer.subarray(0, length)] });
    return { bytesWritten: length, buffer };
  }
  async i2cRead(address: number, length: number, buffer: Buffer) {
    const next = this.plainReads.get(address)?.shift();
    if (!next) throw Object.assign(new Error('Remote I/O error'), { code: 'EREMOTEIO' });
    next.copy(buffer, 0, 0, Math.min(length, next.length));
    return { bytesRead: Math.min(length, next.length), buffer };
  }
  async close() {
    this.closed = true;
  }
}

/** The six bytes an SHT3x answers a measurement with: each word followed by its CRC-8. */
export function sht31Measurement(rawT: number, rawRh: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(rawT, 0);
  b[2] = crc8Sensirion(b, 0, 2);
  b.writeUInt16BE(rawRh, 3);
  b[5] = crc8Sensirion(b, 3, 5);
  return b;
}
