import type { Logger } from 'pino';
import type * as I2cBusModule from 'i2c-bus';
import type { ReadingSink, SensorDriver } from './sensor-driver.js';
import type { DeviceControl } from '../control/device-registry.js';
import { readingsOf, type DeviceIdentity } from './device-readings.js';
import type { DriverMetrics } from './driver-metrics.js';
import type { I2CBus, I2CSensor } from './i2c/i2c-bus.js';
import { Bme280 } from './i2c/bme280.js';
import { Sht31 } from './i2c/sht31.js';

export const I2C_SENSORS = ['bme280', 'sht31'] as const;
export type I2CSensorModel = (typeof I2C_SENSORS)[number];

export interface I2CDeviceSpec extends DeviceIdentity {
  /** Bus number: `/dev/i2c-<bus>`. */
  bus: number;
  address: number;
  sensor: I2CSensorModel;
  /** Sampling period (ms). */
  periodMs: number;
}

export interface I2CDriverOptions {
  devices: I2CDeviceSpec[];
  control?: DeviceControl;
  /** Opens a bus; default: the optional `i2c-bus` package. Tests inject a bus with recorded register values. */
  openBus?: (busNumber: number) => Promise<I2CBus>;
  /** A read that takes longer than this (a hung bus) fails. Default 1000 ms. */
  readTimeoutMs?: number;
  metrics?: DriverMetrics;
  log?: Logger;
}

/** The bus could not be opened: no `/dev/i2c-N`, no permission, or `i2c-bus` is not installed. */
export class I2CBusUnavailableError extends Error {
  override name = 'I2CBusUnavailableError';
}

/** Opens `/dev/i2c-<n>` with `i2c-bus`, loaded only now: it is an optional dependency (a native module). */
export async function openI2cBus(busNumber: number): Promise<I2CBus> {
  let mod: typeof I2cBusModule;
  try {
    mod = await import('i2c-bus');
  } catch (err) {
    throw new I2CBusUnavailableError(
      `the I2C driver needs the optional package i2c-bus (npm install i2c-bus; it compiles a native module): ${(err as Error).message}`,
    );
  }
  try {
    return (await mod.openPromisified(busNumber)) as unknown as I2CBus;
  } catch (err) {
    throw new I2CBusUnavailableError(`/dev/i2c-${busNumber}: ${(err as Error).message}`);
  }
}

function sensorFor(model: I2CSensorModel, bus: I2CBus, address: number): I2CSensor {
  switch (model) {
    case 'bme280':
      return new Bme280(bus, address);
    case 'sht31':
      return new Sht31(bus, address);
  }
}

interface DeviceLoop {
  spec: I2CDeviceSpec;
  sensor?: I2CSensor;
  sequence: number;
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
}

/**
 * Reads sensors on I2C buses, each device on its own period. A failed read counts towards the device's SafeState
 * (and leaves a gap in its sequence); a bus that cannot be opened is a communication failure (Error). After any
 * failure the sensor is set up again before its next read, so a sensor that was re-plugged recovers.
 */
export class I2CDriver implements SensorDriver {
  readonly name = 'i2c';
  private readonly loops: DeviceLoop[];
  private readonly buses = new Map<number, Promise<I2CBus>>();
  private stopped = true;

  constructor(private readonly opts: I2CDriverOptions) {
    this.loops = opts.devices.map((spec) => ({ spec, sequence: 0 }));
  }

  get deviceIds(): string[] {
    return this.loops.map((l) => l.spec.id);
  }

  start(sink: ReadingSink): void {
    if (!this.stopped) return;
    this.stopped = false;
    for (const loop of this.loops) this.schedule(loop, sink, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const loop of this.loops) clearTimeout(loop.timer);
    await Promise.all(this.loops.map((l) => l.running));
    const buses = [...this.buses.values()];
    this.buses.clear();
    await Promise.all(buses.map(async (b) => (await b.catch(() => undefined))?.close().catch(() => {})));
  }

  private schedule(loop: DeviceLoop, sink: ReadingSink, delayMs: number): void {
    if (this.stopped) return;
    loop.timer = setTimeout(() => {
      const started = Date.now();
      loop.running = this.tick(loop, sink).finally(() => {
        loop.running = undefined;
        this.schedule(loop, sink, Math.max(0, loop.spec.periodMs - (Date.now() - started)));
      });
    }, delayMs);
  }

  /**
   * Takes one sample of a device now, as its timer does (and counts it in its sequence), whether or not the
   * driver is started: for a read on demand, and for tests that step through samples. A failed read is counted
   * and reported to the device control as on the timer; only an unknown device id throws.
   */
  async sampleNow(deviceId: string, sink: ReadingSink): Promise<void> {
    const loop = this.loops.find((l) => l.spec.id === deviceId);
    if (!loop) throw new Error(`no I2C device "${deviceId}"`);
    await this.tick(loop, sink);
  }

  /** One sample of one device; never throws. */
  private async tick(loop: DeviceLoop, sink: ReadingSink): Promise<void> {
    const { spec } = loop;
    const control = this.opts.control;
    if (control && !control.isMeasuring(spec.id)) {
      loop.sensor = undefined; // set up again when it measures again (it may have been swapped meanwhile)
      return;
    }
    const eventTime = new Date().toISOString();
    loop.sequence++;
    let bus: I2CBus;
    try {
      bus = await this.bus(spec.bus);
    } catch (err) {
      this.opts.metrics?.driverErrors.inc({ driver: this.name, kind: 'disconnected' });
      control?.communicationFailed(spec.id, (err as Error).message);
      this.opts.log?.warn({ deviceId: spec.id, err }, 'I2C bus unavailable');
      return;
    }
    try {
      const values = await withTimeout(this.readSensor(loop, bus), this.opts.readTimeoutMs ?? 1000);
      const readings = readingsOf(spec, values, loop.sequence, eventTime);
      control?.readSucceeded(spec.id, readings);
      sink(readings);
    } catch (err) {
      loop.sensor = undefined;
      this.opts.metrics?.driverErrors.inc({ driver: this.name, kind: 'read_failed' });
      control?.readFailed(spec.id, `${spec.sensor} at 0x${spec.address.toString(16)}: ${(err as Error).message}`);
      this.opts.log?.debug({ deviceId: spec.id, err }, 'I2C read failed');
    }
  }

  private async readSensor(loop: DeviceLoop, bus: I2CBus): Promise<Array<[string, number]>> {
    if (!loop.sensor) {
      const sensor = sensorFor(loop.spec.sensor, bus, loop.spec.address);
      await sensor.init();
      loop.sensor = sensor;
    }
    return loop.sensor.read();
  }

  private bus(busNumber: number): Promise<I2CBus> {
    let bus = this.buses.get(busNumber);
    if (!bus) {
      bus = (this.opts.openBus ?? openI2cBus)(busNumber);
      this.buses.set(busNumber, bus);
      // A bus that failed to open is tried again on the next read, not cached as failed.
      bus.catch(() => this.buses.get(busNumber) === bus && this.buses.delete(busNumber));
    }
    return bus;
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
