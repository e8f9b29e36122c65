import { stat } from 'node:fs';
import type { Logger } from 'pino';
import { SerialPort } from 'serialport';
import { fullJitterBackoff } from '@telemetryhub/service-kit';
import type { ReadingSink, SensorDriver } from './sensor-driver.js';
import type { DeviceControl } from '../control/device-registry.js';
import { readingsOf, type DeviceIdentity } from './device-readings.js';
import type { DriverMetrics } from './driver-metrics.js';
import type { FrameDecoder } from './serial/frame-decoder.js';
import { LineDecoder, type LineFormat } from './serial/line-decoder.js';
import { BinaryFrameDecoder } from './serial/binary-frame.js';

const PRESENCE_CHECK_MS = 1000;

export const SERIAL_FORMATS = ['json', 'csv', 'nmea', 'binary'] as const;
export type SerialFormat = (typeof SERIAL_FORMATS)[number];

export interface SerialDeviceSpec extends DeviceIdentity {
  /** The port: `/dev/ttyUSB0`, `/dev/serial/by-id/…` (stable across replugs), or a pty in tests. */
  port: string;
  baudRate: number;
  format: SerialFormat;
  /** Metric of each field, in order (csv, nmea, binary); json lines name their metrics. */
  metrics: readonly string[];
  /** nmea: the address field each sentence must carry (e.g. `WIMDA`); unset = any. */
  sentence?: string;
  /** csv: field separator. Default `,`. */
  separator?: string;
}

export interface SerialDriverOptions {
  devices: SerialDeviceSpec[];
  control?: DeviceControl;
  /** Reconnect backoff: first delay and cap (ms), doubling in between, with full jitter. Default 250 / 30 000. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** The jitter's source, uniform in [0, 1). Default Math.random (a test pins it to see the schedule). */
  random?: () => number;
  metrics?: DriverMetrics;
  log?: Logger;
}

function decoderFor(spec: Pick<SerialDeviceSpec, 'format' | 'metrics' | 'sentence' | 'separator'>): FrameDecoder {
  if (spec.format === 'binary') return new BinaryFrameDecoder(spec.metrics);
  const format: LineFormat =
    spec.format === 'json'
      ? { format: 'json' }
      : spec.format === 'csv'
        ? { format: 'csv', metrics: spec.metrics, ...(spec.separator ? { separator: spec.separator } : {}) }
        : { format: 'nmea', metrics: spec.metrics, ...(spec.sentence ? { sentence: spec.sentence } : {}) };
  return new LineDecoder(format);
}

/** One serial device: its port, the decoder of its byte stream, and where it is in reconnecting. */
class SerialLink {
  private port: SerialPort | undefined;
  private decoder: FrameDecoder;
  private sequence = 0;
  private failedOpens = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private presenceTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private everOpened = false;

  constructor(
    private readonly spec: SerialDeviceSpec,
    private readonly opts: SerialDriverOptions,
    private readonly sink: ReadingSink,
  ) {
    this.decoder = decoderFor(spec);
  }

  get deviceId(): string {
    return this.spec.id;
  }
  get isOpen(): boolean {
    return this.port?.isOpen ?? false;
  }

  open(): void {
    if (this.stopped) return;
    const port = new SerialPort({ path: this.spec.port, baudRate: this.spec.baudRate, autoOpen: false });
    this.port = port;
    port.on('data', (chunk: Buffer) => this.onData(chunk));
    port.on('error', (err) => this.opts.log?.debug({ deviceId: this.spec.id, err }, 'serial port error'));
    port.on('close', () => this.lost(port, 'port closed'));
    port.open((err) => {
      if (!err) {
        if (this.everOpened) this.opts.metrics?.driverReconnects.inc({ driver: 'serial' });
        this.everOpened = true;
        this.failedOpens = 0;
        this.opts.log?.info({ deviceId: this.spec.id, port: this.spec.port }, 'serial port open');
        this.watchPresence(port);
        return;
      }
      this.lost(port, err.message);
    });
  }

  /**
   * A pulled USB adapter removes its device node, but the read side does not always say so: a hung-up tty can
   * answer reads with 0 bytes (EOF), which serialport retries forever instead of reporting. So while open, the
   * link checks every second that the port's path still exists.
   */
  private watchPresence(port: SerialPort): void {
    clearInterval(this.presenceTimer);
    this.presenceTimer = setInterval(() => {
      stat(this.spec.port, (err) => {
        if (err?.code === 'ENOENT') this.lost(port, `${this.spec.port} disappeared`);
      });
    }, PRESENCE_CHECK_MS);
    this.presenceTimer.unref();
  }

  /**
   * The port failed to open or went away (a pulled USB adapter). Each failed attempt counts as a failed read, so a
   * device gone for good latches SafeState after SAFE_STATE_AFTER_FAILURES attempts, while a brief glitch heals
   * by itself; the link keeps trying either way, so a reset device finds its port open.
   */
  private lost(port: SerialPort, reason: string): void {
    if (port !== this.port) return; // an old port's late event
    this.port = undefined;
    clearInterval(this.presenceTimer);
    port.removeAllListeners('data');
    if (port.isOpen) port.close(() => {});
    if (this.stopped) return;
    this.decoder = decoderFor(this.spec); // a half-received frame is gone with the link
    this.failedOpens++;
    this.opts.metrics?.driverErrors.inc({ driver: 'serial', kind: 'disconnected' });
    this.opts.control?.readFailed(this.spec.id, `${this.spec.port}: ${reason}`);
    const delay = Math.max(
      10,
      fullJitterBackoff(
        this.failedOpens - 1,
        this.opts.reconnectMinMs ?? 250,
        this.opts.reconnectMaxMs ?? 30_000,
        this.opts.random,
      ),
    );
    this.opts.log?.warn(
      { deviceId: this.spec.id, port: this.spec.port, reason, retryInMs: Math.round(delay) },
      'serial port lost',
    );
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  private onData(chunk: Buffer): void {
    const measuring = this.opts.control?.isMeasuring(this.spec.id) ?? true;
    for (const result of this.decoder.push(chunk)) {
      if (!result.ok) {
        this.opts.metrics?.driverErrors.inc({ driver: 'serial', kind: 'malformed_frame' });
        this.opts.log?.debug(
          { deviceId: this.spec.id, reason: result.reason, raw: result.raw },
          'malformed frame skipped',
        );
        continue;
      }
      if (!measuring) continue; // read and dropped: the decoder stays in step with the stream
      const sequence = result.sample.sequence ?? ++this.sequence;
      const readings = readingsOf(this.spec, result.sample.values, sequence, new Date().toISOString());
      this.opts.control?.readSucceeded(this.spec.id, readings);
      this.sink(readings);
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.presenceTimer);
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}

/**
 * Devices on serial ports (UART, USB adapters): each port's byte stream is cut into frames by the device's
 * format (JSON, CSV or NMEA lines, or binary frames with CRC), each frame a sample stamped with the hub's clock.
 * Malformed frames are counted and skipped; a lost port is reopened with capped, jittered exponential backoff.
 */
export class SerialDriver implements SensorDriver {
  readonly name = 'serial';
  private links: SerialLink[] = [];

  constructor(private readonly opts: SerialDriverOptions) {}

  get deviceIds(): string[] {
    return this.opts.devices.map((d) => d.id);
  }

  /** Whether the device's port is open now (false while it is being reconnected). */
  isOpen(deviceId: string): boolean {
    return this.links.find((l) => l.deviceId === deviceId)?.isOpen ?? false;
  }

  start(sink: ReadingSink): void {
    if (this.links.length) return;
    this.links = this.opts.devices.map((spec) => new SerialLink(spec, this.opts, sink));
    for (const link of this.links) link.open();
  }

  async stop(): Promise<void> {
    const links = this.links;
    this.links = [];
    await Promise.all(links.map((l) => l.close()));
  }
}
