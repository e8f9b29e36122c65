/** Allowed lateness of the event-time watermark by default (issue 4: 30 s). */
export const DEFAULT_ALLOWED_LATENESS_MS = 30_000;

/**
 * Event-time watermark per device (the stream partition of telemetry): the newest event time seen from that
 * device, less the allowed lateness. A reading older than its device's watermark is a late correction: it is
 * still stored and folded into its (already closed) rollup bucket — rollups keep count/sum/min/max, so the fold
 * is exact — and counted, so a dashboard can tell a window was amended after the fact.
 *
 * State is bounded: at most `maxDevices` watermarks, the least recently updated dropped first (a forgotten
 * device simply starts a new watermark). One fast clock cannot push a device's watermark into the future: the
 * decoder refuses readings beyond the clock-skew tolerance before they get here.
 */
export class EventTimeWatermarks {
  private readonly newest = new Map<string, number>();

  constructor(
    private readonly allowedLatenessMs: number,
    private readonly maxDevices = 100_000,
  ) {}

  /**
   * Observes a batch (in its order) and returns, for each reading, whether it was late: older than its device's
   * watermark as it stood before the reading was seen.
   */
  observe(readings: ReadonlyArray<{ device_id: string }>, eventMs: readonly number[]): boolean[] {
    const late: boolean[] = new Array<boolean>(readings.length);
    for (let i = 0; i < readings.length; i++) {
      const device = readings[i]!.device_id;
      const ms = eventMs[i]!;
      const newest = this.newest.get(device);
      late[i] = newest !== undefined && ms < newest - this.allowedLatenessMs;
      if (newest === undefined || ms > newest) {
        this.newest.delete(device); // re-insert: Map order is then least recently advanced first
        this.newest.set(device, ms);
        if (this.newest.size > this.maxDevices) this.newest.delete(this.newest.keys().next().value!);
      }
    }
    return late;
  }

  /** The watermark of a device (newest event time − allowed lateness), or undefined before its first reading. */
  watermark(deviceId: string): number | undefined {
    const n = this.newest.get(deviceId);
    return n === undefined ? undefined : n - this.allowedLatenessMs;
  }

  get size(): number {
    return this.newest.size;
  }
}
