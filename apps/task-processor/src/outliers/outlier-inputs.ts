import type { Reading } from '@telemetryhub/schemas';
import { uuidBytes, uuidText } from '../domain/uuid-bytes.js';
import { grown } from '../domain/typed-arrays.js';
import { SeriesIndex } from '../domain/series-index.js';

/** One series' place in the columns: its first and last reading (each reading links to the next of its series). */
export interface SeriesInputs {
  device: string;
  metric: string;
  head: number;
  tail: number;
}

const INITIAL_CAPACITY = 1024;

/**
 * What the outlier detector needs of readings gathered over one or more batches (a fold's, held between folds):
 * each reading's value, event time and event id, in columns shared by every series (typed arrays, the id as its
 * 16 bytes), each series a chain through them in the order its readings were added; each series' chain found by its
 * number in a SeriesIndex (the fold's, kept across folds), not in maps of its own. About 36 bytes a reading and
 * 8 bytes a series, where the readings themselves (a dozen fields, the id a 36-character string) take several
 * hundred — so a fold can wait for many readings of a large fleet within the processor's heap.
 */
export class OutlierInputs {
  private values = new Float64Array(INITIAL_CAPACITY);
  private times = new Float64Array(INITIAL_CAPACITY);
  private next = new Int32Array(INITIAL_CAPACITY);
  private ids = new Uint8Array(INITIAL_CAPACITY * 16);
  private count = 0;
  /** By series number: its chain's first reading + 1 (0: no reading of it here), and its last. */
  private heads = new Int32Array(0);
  private tails = new Int32Array(0);
  /** The series numbers with readings here, in the order each first came. */
  private readonly held: number[] = [];

  constructor(readonly index: SeriesIndex = new SeriesIndex()) {}

  static of(readings: readonly Reading[]): OutlierInputs {
    const inputs = new OutlierInputs();
    for (const r of readings) inputs.add(r.device_id, r.metric, Date.parse(r.event_time), r.value, r.event_id);
    return inputs;
  }

  /** Adds a reading (`eventId` a UUID, as every stored event id is). */
  add(device: string, metric: string, ms: number, value: number, eventId: string): void {
    this.addAt(this.index.slot(device, metric), ms, value, eventId);
  }

  /** Adds a reading of the series numbered `slot` in `index` (a caller that has the number already). */
  addAt(slot: number, ms: number, value: number, eventId: string): void {
    const i = this.count;
    if (i === this.values.length) this.grow(i * 2);
    this.values[i] = value;
    this.times[i] = ms;
    this.next[i] = -1;
    uuidBytes(eventId, this.ids, i * 16);
    this.count++;
    this.link(slot, i, i);
  }

  /** Takes in `other`'s readings, added after these (`other` is not to be used after). */
  absorb(other: OutlierInputs): void {
    const offset = this.count;
    const total = offset + other.count;
    if (total > this.values.length) this.grow(Math.max(total, this.values.length * 2));
    this.values.set(other.values.subarray(0, other.count), offset);
    this.times.set(other.times.subarray(0, other.count), offset);
    this.ids.set(other.ids.subarray(0, other.count * 16), offset * 16);
    for (let i = 0; i < other.count; i++) {
      const n = other.next[i]!;
      this.next[offset + i] = n < 0 ? -1 : n + offset;
    }
    this.count = total;
    for (const t of other.held) {
      this.link(this.index.slotOf(other.index, t), other.heads[t]! - 1 + offset, other.tails[t]! + offset);
    }
  }

  /** Readings held. */
  get size(): number {
    return this.count;
  }

  /** Series held (each an outlier-state row the fold reads and writes). */
  get seriesHeld(): number {
    return this.held.length;
  }

  /** The devices with readings. */
  devices(): string[] {
    const devices = new Set<string>();
    for (const t of this.held) devices.add(this.index.device(t));
    return [...devices];
  }

  /** The series held, in the order each first came (objects made here, for one fold's walk). */
  *series(): IterableIterator<SeriesInputs> {
    for (const t of this.held) {
      yield {
        device: this.index.device(t),
        metric: this.index.metric(t),
        head: this.heads[t]! - 1,
        tail: this.tails[t]!,
      };
    }
  }

  value(i: number): number {
    return this.values[i]!;
  }

  timeMs(i: number): number {
    return this.times[i]!;
  }

  eventId(i: number): string {
    return uuidText(this.ids, i * 16);
  }

  /** A series' readings (their positions) in event-time order; equal times keep the order they were added in. */
  inEventTimeOrder(s: SeriesInputs): number[] {
    const order: number[] = [];
    let sorted = true;
    for (let i = s.head; i >= 0; i = this.next[i]!) {
      if (order.length && this.times[i]! < this.times[order[order.length - 1]!]!) sorted = false;
      order.push(i);
    }
    // A chain runs in the order of adding, and the sort is stable: equal times keep it.
    return sorted ? order : order.sort((a, b) => this.times[a]! - this.times[b]!);
  }

  /** Appends the chain head…tail to the series numbered `slot` (a new series here starts with it). */
  private link(slot: number, head: number, tail: number): void {
    if (slot >= this.heads.length) {
      const capacity = Math.max(slot + 1, this.heads.length * 2, 64);
      this.heads = grown(this.heads, capacity);
      this.tails = grown(this.tails, capacity);
    }
    if (this.heads[slot] === 0) {
      this.heads[slot] = head + 1;
      this.held.push(slot);
    } else {
      this.next[this.tails[slot]!] = head;
    }
    this.tails[slot] = tail;
  }

  private grow(capacity: number): void {
    this.values = grown(this.values, capacity);
    this.times = grown(this.times, capacity);
    this.next = grown(this.next, capacity);
    this.ids = grown(this.ids, capacity * 16);
  }
}
