import type { FutureSkewPolicy, ParseOptions } from '@telemetryhub/schemas';
import type { HubMetrics } from '../metrics/hub-metrics.js';

export interface DeviceSkew {
  device_id: string;
  rejected: number;
  clamped: number;
  max_ahead_seconds: number;
  last_seen: string;
}

/**
 * The hub's clock-skew guard: events stamped further ahead than MAX_CLOCK_SKEW_SECONDS are refused or clamped to
 * now (CLOCK_SKEW_POLICY), counted in `telemetryhub_hub_clock_skew_events_total{action}` and per device in a bounded
 * table (the devices seen most recently, at most `maxDevices`) served at `GET /v1/clock-skew`, so the device with
 * the fast clock can be found without a label per device in Prometheus.
 */
export class ClockSkewGuard {
  private readonly devices = new Map<string, DeviceSkew>();
  readonly parseOptions: ParseOptions;

  constructor(
    private readonly o: { maxFutureSkewMs: number; policy: FutureSkewPolicy; metrics: HubMetrics; maxDevices?: number },
  ) {
    this.parseOptions = {
      maxFutureSkewMs: o.maxFutureSkewMs,
      futureSkewPolicy: o.policy,
      onFutureSkew: (deviceId, aheadMs, action) => this.record(deviceId, aheadMs, action),
    };
  }

  private record(deviceId: string, aheadMs: number, action: 'rejected' | 'clamped'): void {
    this.o.metrics.clockSkewEvents.inc({ action });
    const entry = this.devices.get(deviceId) ?? {
      device_id: deviceId,
      rejected: 0,
      clamped: 0,
      max_ahead_seconds: 0,
      last_seen: '',
    };
    entry[action] += 1;
    entry.max_ahead_seconds = Math.max(entry.max_ahead_seconds, Math.round(aheadMs / 1000));
    entry.last_seen = new Date().toISOString();
    this.devices.delete(deviceId); // re-insert: the Map's order is then least recently seen first
    this.devices.set(deviceId, entry);
    if (this.devices.size > (this.o.maxDevices ?? 1000)) this.devices.delete(this.devices.keys().next().value!);
  }

  /** Devices with skewed events, most events first. */
  snapshot(): DeviceSkew[] {
    return [...this.devices.values()]
      .map((d) => ({ ...d }))
      .sort((a, b) => b.rejected + b.clamped - (a.rejected + a.clamped));
  }
}
