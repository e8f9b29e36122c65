import type { Reading } from '@telemetryhub/schemas';
import { DeviceStateMachine, InvalidTransitionError, type DeviceState } from './device-state.js';

/** What a driver asks and tells about its devices (the driver never owns their state). */
export interface DeviceControl {
  isMeasuring(deviceId: string): boolean;
  readSucceeded(deviceId: string, readings: readonly Reading[]): void;
  readFailed(deviceId: string, message: string): void;
  communicationFailed(deviceId: string, message: string): void;
}

/** The state precedence of the hub as a whole, for the original single-state `/status`: the worst device wins. */
const PRECEDENCE: readonly DeviceState[] = ['SafeState', 'Error', 'Measuring', 'Idle'];

/** Every device's state machine and latest sample; `start`/`stop`/`reset` of the hub apply to all devices. */
export class DeviceRegistry implements DeviceControl {
  private readonly devices = new Map<string, DeviceStateMachine>();
  /** Each device's latest sample and when the hub took it (epoch ms). */
  private readonly latest = new Map<string, { reading: Reading; atMs: number }>();
  private latestOverall: Reading | null = null;

  constructor(
    private readonly safeStateAfter: number,
    private readonly onChange: (
      deviceId: string,
      from: DeviceState,
      to: DeviceState,
      reason: string,
    ) => void = () => {},
  ) {}

  register(deviceId: string): DeviceStateMachine {
    let d = this.devices.get(deviceId);
    if (!d) {
      d = new DeviceStateMachine(deviceId, this.safeStateAfter, (from, to, reason) =>
        this.onChange(deviceId, from, to, reason),
      );
      this.devices.set(deviceId, d);
    }
    return d;
  }

  get(deviceId: string): DeviceStateMachine | undefined {
    return this.devices.get(deviceId);
  }

  isMeasuring(deviceId: string): boolean {
    return this.devices.get(deviceId)?.isMeasuring ?? false;
  }
  readSucceeded(deviceId: string, readings: readonly Reading[]): void {
    this.devices.get(deviceId)?.readSucceeded();
    const last = readings.at(-1);
    if (last) {
      this.latest.set(deviceId, { reading: last, atMs: Date.now() });
      this.latestOverall = last;
    }
  }
  readFailed(deviceId: string, message: string): void {
    this.devices.get(deviceId)?.readFailed(message);
  }
  communicationFailed(deviceId: string, message: string): void {
    this.devices.get(deviceId)?.communicationFailed(message);
  }

  latestSample(deviceId?: string): Reading | null {
    return deviceId ? (this.latest.get(deviceId)?.reading ?? null) : this.latestOverall;
  }

  /** When the hub last took a reading from the device (epoch ms), for the "no data from a device" alert. */
  lastReadAt(deviceId: string): number | undefined {
    return this.latest.get(deviceId)?.atMs;
  }

  get state(): DeviceState {
    const states = new Set([...this.devices.values()].map((d) => d.state));
    return PRECEDENCE.find((s) => states.has(s)) ?? 'Idle';
  }

  /** Starts every idle device; 400 while any device is in a fault state (reset first, as the original did). */
  startAll(): void {
    const faulted = [...this.devices.values()].filter((d) => d.state === 'Error' || d.state === 'SafeState');
    if (faulted.length) {
      throw new InvalidTransitionError(`${faulted.map((d) => d.deviceId).join(', ')} in a fault state: reset first`);
    }
    for (const d of this.devices.values()) if (d.state === 'Idle') d.start();
  }
  stopAll(): void {
    for (const d of this.devices.values()) d.stop();
  }
  /** Resets every device in a fault state; 400 if one is measuring or none is in a fault state. */
  resetAll(): void {
    const all = [...this.devices.values()];
    if (all.some((d) => d.isMeasuring))
      throw new InvalidTransitionError('devices are measuring: stop them first (reset clears a fault)');
    const faulted = all.filter((d) => d.state === 'Error' || d.state === 'SafeState');
    if (faulted.length === 0) throw new InvalidTransitionError('no device is in a fault state');
    for (const d of faulted) d.reset();
  }

  snapshots() {
    return [...this.devices.values()].map((d) => d.snapshot());
  }
}
