import { AppError, ErrorCodes } from '@telemetryhub/service-kit';

/** The original gateway's device states. */
export type DeviceState = 'Idle' | 'Measuring' | 'Error' | 'SafeState';

/** A refused transition (HTTP 400, as the original gateway answered, with the reason). */
export class InvalidTransitionError extends AppError {
  constructor(message: string) {
    super(ErrorCodes.INVALID_STATE, message);
  }
}

/**
 * One device's state machine, as the original gateway defined it:
 * - `start` only from Idle (again while Measuring is a no-op); `stop` from Measuring, idempotent elsewhere;
 *   `reset` only from Error or SafeState, back to Idle;
 * - a communication failure (the device or its bus is gone) → Error;
 * - `safeStateAfter` consecutive read failures (default 5) latch SafeState: the device stops being read until an
 *   operator resets it. A good reading clears the count.
 */
export class DeviceStateMachine {
  private current: DeviceState = 'Idle';
  private consecutiveFailures = 0;
  private lastError: string | null = null;
  private changedAt = new Date();

  constructor(
    readonly deviceId: string,
    private readonly safeStateAfter = 5,
    private readonly onChange: (from: DeviceState, to: DeviceState, reason: string) => void = () => {},
  ) {}

  get state(): DeviceState {
    return this.current;
  }
  get isMeasuring(): boolean {
    return this.current === 'Measuring';
  }

  start(): void {
    if (this.current === 'Measuring') return;
    if (this.current !== 'Idle') {
      throw new InvalidTransitionError(`device ${this.deviceId} is in ${this.current}: reset it before starting`);
    }
    this.move('Measuring', 'start');
  }

  stop(): void {
    if (this.current === 'Measuring') this.move('Idle', 'stop');
  }

  reset(): void {
    if (this.current === 'Measuring') {
      throw new InvalidTransitionError(`device ${this.deviceId} is measuring: stop it first (reset clears a fault)`);
    }
    if (this.current === 'Idle') throw new InvalidTransitionError(`device ${this.deviceId} is not in a fault state`);
    this.consecutiveFailures = 0;
    this.lastError = null;
    this.move('Idle', 'reset');
  }

  readSucceeded(): void {
    this.consecutiveFailures = 0;
  }

  readFailed(message: string): void {
    if (this.current !== 'Measuring') return;
    this.consecutiveFailures++;
    this.lastError = message;
    if (this.consecutiveFailures >= this.safeStateAfter) {
      this.move('SafeState', `${this.consecutiveFailures} consecutive read failures (last: ${message})`);
    }
  }

  communicationFailed(message: string): void {
    if (this.current === 'SafeState' || this.current === 'Error') return;
    this.lastError = message;
    this.move('Error', `communication failure: ${message}`);
  }

  snapshot() {
    return {
      device_id: this.deviceId,
      state: this.current,
      consecutive_failures: this.consecutiveFailures,
      last_error: this.lastError,
      since: this.changedAt.toISOString(),
    };
  }

  private move(to: DeviceState, reason: string): void {
    const from = this.current;
    this.current = to;
    this.changedAt = new Date();
    this.onChange(from, to, reason);
  }
}
