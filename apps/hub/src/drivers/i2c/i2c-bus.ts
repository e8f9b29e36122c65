/**
 * The part of an I2C bus the sensor code uses: the same calls as `i2c-bus`'s promisified bus, so the real bus
 * plugs in unchanged and tests inject one that answers with recorded register values.
 */
export interface I2CBus {
  /** Reads `length` bytes starting at register `register` (an I2C block read). */
  readI2cBlock(address: number, register: number, length: number, buffer: Buffer): Promise<{ bytesRead: number }>;
  writeByte(address: number, register: number, byte: number): Promise<void>;
  /** A plain write of `length` bytes (a command, for sensors without registers such as the SHT3x). */
  i2cWrite(address: number, length: number, buffer: Buffer): Promise<{ bytesWritten: number }>;
  /** A plain read of `length` bytes. */
  i2cRead(address: number, length: number, buffer: Buffer): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

/** The sensor answered with something no working sensor sends (wrong chip id, bad CRC, short read). */
export class SensorReadError extends Error {
  override name = 'SensorReadError';
}

/** A sensor on a bus: set it up once, then read a value per metric each period. */
export interface I2CSensor {
  /** The metrics each read returns, in order. */
  readonly metrics: readonly string[];
  init(): Promise<void>;
  read(): Promise<Array<[metric: string, value: number]>>;
}

export async function readRegisters(bus: I2CBus, address: number, register: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await bus.readI2cBlock(address, register, length, buffer);
  if (bytesRead !== length) {
    throw new SensorReadError(`short read at 0x${register.toString(16)}: ${bytesRead} of ${length} bytes`);
  }
  return buffer;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
