import type { Reading } from '@telemetryhub/schemas';

/** Where a driver delivers what it reads. */
export type ReadingSink = (readings: Reading[]) => void;

/** A source of readings from hardware (UART, I2C) or a simulation. Drivers never throw into the hub loop. */
export interface SensorDriver {
  /** Short, low-cardinality name for metrics labels (`simulated`, `serial`, `i2c`). */
  readonly name: string;
  start(sink: ReadingSink): void;
  /** Stops reading; resolves when no more readings will be delivered. Idempotent. */
  stop(): Promise<void>;
}
