import type { ReadingSink, SensorDriver } from './sensor-driver.js';
import type { DeviceControl } from '../control/device-registry.js';
import { gaussian, seededRandom } from '@telemetryhub/service-kit';
import { type Reading } from '@telemetryhub/schemas';
import { readingsOf } from './device-readings.js';
import { simulatedId } from './device-ids.js';

/** How a simulated metric behaves: a level it wanders around, how far it drifts, how noisy a reading is. */
interface MetricModel {
  base: number;
  /** Spread of device baselines around `base`. */
  spread: number;
  /** Random-walk step per sample (standard deviation). */
  drift: number;
  /** Measurement noise (standard deviation). */
  noise: number;
  /** The walk is pulled back inside [min, max]. */
  min: number;
  max: number;
  decimals: number;
}

/** Plausible factory-floor values: a warm room, moderate humidity, sea-level pressure, a 3.3 V rail. */
export const METRIC_MODELS: Record<string, MetricModel> = {
  temperature: { base: 24, spread: 4, drift: 0.05, noise: 0.15, min: -10, max: 60, decimals: 2 },
  humidity: { base: 50, spread: 10, drift: 0.1, noise: 0.4, min: 5, max: 95, decimals: 1 },
  pressure: { base: 1013.25, spread: 5, drift: 0.05, noise: 0.1, min: 950, max: 1060, decimals: 2 },
  voltage: { base: 3.3, spread: 0.05, drift: 0.002, noise: 0.01, min: 2.9, max: 3.6, decimals: 3 },
  current: { base: 0.5, spread: 0.15, drift: 0.005, noise: 0.02, min: 0.05, max: 1.8, decimals: 3 },
};
const GENERIC_MODEL: MetricModel = { base: 100, spread: 10, drift: 0.2, noise: 0.5, min: 0, max: 1000, decimals: 2 };

export interface SimulatedDriverOptions {
  devices: number;
  /** Samples per second per device; each sample reads every metric. */
  rateHz: number;
  metrics: string[];
  site: string;
  region: string;
  /** Device ids are `<idPrefix>001`, `<idPrefix>002`, … Default `sim-`. */
  idPrefix?: string;
  seed?: number;
  /** Clock, for tests. */
  now?: () => number;
  /** Tick period (ms); at high rates a tick emits several samples per device. Default: 1000/rate, at least 10. */
  tickMs?: number;
  /** Device states: only measuring devices are read, and faults are reported here. Default: every device reads. */
  control?: DeviceControl;
  /** Probability that one sample's read fails (a sensor error): exercises SafeState. Default 0. */
  faultRate?: number;
  /** A communication failure after this many samples since a device started measuring (0 = never). */
  commFailureAfter?: number;
  /** Misbehaviour on demand, to exercise every downstream guarantee. Each a probability per sample, default 0. */
  anomalies?: SimulatedAnomalies;
  /** Told of each anomaly injected (a spike per reading), so that a test or a dashboard knows what to expect. */
  onAnomaly?: (kind: 'spike' | 'gap' | 'duplicate' | 'out_of_order') => void;
}

export interface SimulatedAnomalies {
  /** A value far outside the metric's range (level ± its whole range), per reading: outlier and alert rules. */
  spike?: number;
  /** A sample not sent at all (its sequence_id is skipped): gap detection. */
  gap?: number;
  /** A sample sent twice with the same event_id: deduplication. */
  duplicate?: number;
  /** A sample held back and sent after the device's next one: out-of-order and late events. */
  outOfOrder?: number;
}

interface DeviceState {
  id: string;
  sequence: number;
  /** Samples since the device last started measuring (for `commFailureAfter`). */
  sinceStart: number;
  levels: Map<string, number>;
  /** A sample held back by the out-of-order anomaly, sent after the next one. */
  held?: Reading[];
}

/** N simulated devices producing realistic readings (baseline per device, random-walk drift, gaussian noise). */
export class SimulatedDriver implements SensorDriver {
  readonly name = 'simulated';
  private readonly random: () => number;
  private readonly devices: DeviceState[];
  private timer: NodeJS.Timeout | undefined;
  private owed = 0; // fractional samples carried between ticks
  private last = 0;

  constructor(private readonly opts: SimulatedDriverOptions) {
    this.random = seededRandom(opts.seed ?? Math.floor(Math.random() * 2 ** 32));
    this.devices = Array.from({ length: opts.devices }, (_, i) => ({
      id: simulatedId(opts.idPrefix ?? 'sim-', i),
      sequence: 0,
      sinceStart: 0,
      levels: new Map(opts.metrics.map((m) => [m, this.baseline(modelOf(m))])),
    }));
  }

  get deviceIds(): string[] {
    return this.devices.map((d) => d.id);
  }

  start(sink: ReadingSink): void {
    if (this.timer || this.devices.length === 0) return;
    const now = this.opts.now ?? Date.now;
    const tickMs = this.opts.tickMs ?? Math.max(10, 1000 / this.opts.rateHz);
    this.last = now();
    sink(this.sampleAll(1, now()));
    this.timer = setInterval(() => {
      const t = now();
      this.owed += ((t - this.last) / 1000) * this.opts.rateHz;
      this.last = t;
      const samples = Math.floor(this.owed);
      if (samples < 1) return;
      this.owed -= samples;
      sink(this.sampleAll(samples, t));
    }, tickMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** `samples` samples per device, spread evenly over the time since the last tick. */
  sampleAll(samples: number, atMs: number): Reading[] {
    const out: Reading[] = [];
    const step = 1000 / this.opts.rateHz;
    for (let s = samples - 1; s >= 0; s--) {
      const eventTime = new Date(Math.round(atMs - s * step)).toISOString();
      for (const device of this.devices) this.sampleDevice(device, eventTime, out);
    }
    return out;
  }

  private sampleDevice(device: DeviceState, eventTime: string, out: Reading[]): void {
    const control = this.opts.control;
    if (control && !control.isMeasuring(device.id)) {
      device.sinceStart = 0;
      return;
    }
    // The sequence counts every attempt, so a failed read leaves a gap that is visible downstream.
    device.sequence++;
    device.sinceStart++;
    const commAfter = this.opts.commFailureAfter ?? 0;
    if (commAfter > 0 && device.sinceStart > commAfter) {
      control?.communicationFailed(device.id, `simulated communication failure after ${commAfter} samples`);
      return;
    }
    if ((this.opts.faultRate ?? 0) > 0 && this.random() < (this.opts.faultRate ?? 0)) {
      control?.readFailed(device.id, 'simulated sensor read error');
      return;
    }
    const anomalies = this.opts.anomalies ?? {};
    if (this.chance(anomalies.gap)) {
      this.opts.onAnomaly?.('gap');
      return; // not a read failure: the device simply never sent it
    }
    const values: Array<[string, number]> = [];
    for (const metric of this.opts.metrics) {
      const model = modelOf(metric);
      let level = (device.levels.get(metric) ?? model.base) + gaussian(this.random) * model.drift;
      level = Math.min(model.max, Math.max(model.min, level));
      device.levels.set(metric, level);
      let spike = 0;
      if (this.chance(anomalies.spike)) {
        spike = (this.random() < 0.5 ? -1 : 1) * (model.max - model.min);
        this.opts.onAnomaly?.('spike');
      }
      values.push([metric, round(level + spike + gaussian(this.random) * model.noise, model.decimals)]);
    }
    const identity = { id: device.id, site: this.opts.site, region: this.opts.region, firmware: 'sim-1.0.0' };
    const readings = readingsOf(identity, values, device.sequence, eventTime);
    control?.readSucceeded(device.id, readings);
    if (!device.held && this.chance(anomalies.outOfOrder)) {
      this.opts.onAnomaly?.('out_of_order');
      device.held = readings;
      return;
    }
    out.push(...readings);
    if (this.chance(anomalies.duplicate)) {
      this.opts.onAnomaly?.('duplicate');
      out.push(...readings);
    }
    if (device.held) {
      out.push(...device.held);
      device.held = undefined;
    }
  }

  private chance(probability: number | undefined): boolean {
    return probability !== undefined && probability > 0 && this.random() < probability;
  }

  private baseline(model: MetricModel): number {
    return model.base + (this.random() * 2 - 1) * model.spread;
  }
}

function modelOf(metric: string): MetricModel {
  return METRIC_MODELS[metric] ?? GENERIC_MODEL;
}

function round(v: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(v * f) / f;
}
