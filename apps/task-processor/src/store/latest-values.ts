import type { Reading } from '@telemetryhub/schemas';
import { SeriesIndex } from '../domain/series-index.js';
import { grown } from '../domain/typed-arrays.js';

/** The newest reading of one device and metric, as the latest-value cache keeps it. */
export interface LatestValue {
  /** Event time in ms (what "newest" compares). */
  ms: number;
  event_time: string;
  value: number;
  unit: string | null;
  event_id: string;
  /** When its batch committed (ISO 8601, as the cache serves it: made once per batch, not per series). */
  stored_at: string;
}

const INITIAL_CAPACITY = 1024;

/**
 * The newest reading of each device and metric among readings gathered over one or more batches (a fold's, held
 * between folds): one entry per series, however many readings went in — what the latest-value cache is sent, so
 * a series reporting ten times between folds costs the cache one write, not ten. On equal event times the reading
 * added first stays, as in the cache itself (only a strictly newer reading replaces one).
 *
 * Held in columns indexed by the series' number in a SeriesIndex kept across folds (event time, value, event id,
 * unit, which batch), not as an object per series and a map per device made for each fold. The columns hold the
 * newest reading's own strings: made again for the cache's write (a UUID's and a time's text per series, every
 * fold), they cost the collector more than the objects saved.
 */
export class LatestValues {
  private times: Float64Array;
  private values: Float64Array;
  private eventTimes: string[];
  private eventIds: string[];
  private units: Array<string | null>;
  /** Which of `storedAts` each series' reading came with. */
  private batches: Uint32Array;
  /** Whether a series holds a reading (by series number). */
  private held: Uint8Array;
  /** The series holding a reading, in the order they were first added. */
  private readonly slots: number[] = [];
  private readonly storedAts: string[] = [];

  constructor(readonly series: SeriesIndex = new SeriesIndex()) {
    // Room for every series the index knows: a fleet's series come back fold after fold.
    const n = Math.max(INITIAL_CAPACITY, series.size);
    this.times = new Float64Array(n);
    this.values = new Float64Array(n);
    this.eventTimes = new Array<string>(n).fill('');
    this.eventIds = new Array<string>(n).fill('');
    this.units = new Array<string | null>(n).fill(null);
    this.batches = new Uint32Array(n);
    this.held = new Uint8Array(n);
  }

  static of(readings: readonly Reading[], storedAt = new Date().toISOString()): LatestValues {
    const values = new LatestValues();
    for (const r of readings) values.add(r, Date.parse(r.event_time), storedAt);
    return values;
  }

  add(
    r: Pick<Reading, 'device_id' | 'metric' | 'event_time' | 'value' | 'unit' | 'event_id'>,
    ms: number,
    storedAt: string,
  ): void {
    this.addAt(this.series.slot(r.device_id, r.metric), r, ms, storedAt);
  }

  /** As add, for a reading of the series numbered `s` in `series` (a caller that has the number already). */
  addAt(s: number, r: Pick<Reading, 'event_time' | 'value' | 'unit' | 'event_id'>, ms: number, storedAt: string): void {
    if (s >= this.held.length) this.grow(s + 1);
    if (this.held[s] && this.times[s]! >= ms) return;
    this.put(s, ms, r.event_time, r.value, r.unit, r.event_id, this.batchOf(storedAt));
  }

  /** Takes in `later`'s values, gathered after these (`later` is not to be used after). */
  absorb(later: LatestValues): void {
    // `later`'s batch numbers as numbers here, each commit time added once (its series come in no batch order).
    const batchHere = new Int32Array(later.storedAts.length).fill(-1);
    for (const t of later.slots) {
      const s = this.series.slotOf(later.series, t);
      if (s >= this.held.length) this.grow(s + 1);
      if (this.held[s] && this.times[s]! >= later.times[t]!) continue;
      const b = later.batches[t]!;
      if (batchHere[b] === -1) batchHere[b] = this.batchOf(later.storedAts[b]!);
      this.put(
        s,
        later.times[t]!,
        later.eventTimes[t]!,
        later.values[t]!,
        later.units[t]!,
        later.eventIds[t]!,
        batchHere[b]!,
      );
    }
  }

  /** Series held. */
  get size(): number {
    return this.slots.length;
  }

  /**
   * Each device with its metrics' newest values, made one device at a time as the cache's write takes them (once
   * per fold): made all at once, a large fleet's values would outlive the scavenges during their making.
   */
  *devices(): IterableIterator<[string, ReadonlyMap<string, LatestValue>]> {
    const slotsOf = new Map<string, number[]>();
    for (const s of this.slots) {
      const device = this.series.device(s);
      const slots = slotsOf.get(device);
      if (slots) slots.push(s);
      else slotsOf.set(device, [s]);
    }
    for (const [device, slots] of slotsOf) {
      const metrics = new Map<string, LatestValue>();
      for (const s of slots) {
        metrics.set(this.series.metric(s), {
          ms: this.times[s]!,
          event_time: this.eventTimes[s]!,
          value: this.values[s]!,
          unit: this.units[s]!,
          event_id: this.eventIds[s]!,
          stored_at: this.storedAts[this.batches[s]!]!,
        });
      }
      yield [device, metrics];
    }
  }

  private put(
    s: number,
    ms: number,
    eventTime: string,
    value: number,
    unit: string | null,
    eventId: string,
    batch: number,
  ): void {
    if (!this.held[s]) {
      this.held[s] = 1;
      this.slots.push(s);
    }
    this.times[s] = ms;
    this.eventTimes[s] = eventTime;
    this.values[s] = value;
    this.eventIds[s] = eventId;
    this.units[s] = unit;
    this.batches[s] = batch;
  }

  /** The number of `storedAt` among the batches' commit times (readings come batch by batch: the last, mostly). */
  private batchOf(storedAt: string): number {
    const last = this.storedAts.length - 1;
    if (last >= 0 && this.storedAts[last] === storedAt) return last;
    this.storedAts.push(storedAt);
    return last + 1;
  }

  private grow(needed: number): void {
    const capacity = Math.max(needed, this.held.length * 2);
    this.times = grown(this.times, capacity);
    this.values = grown(this.values, capacity);
    this.batches = grown(this.batches, capacity);
    this.held = grown(this.held, capacity);
    for (let i = this.units.length; i < capacity; i++) {
      this.units.push(null);
      this.eventTimes.push('');
      this.eventIds.push('');
    }
  }
}
