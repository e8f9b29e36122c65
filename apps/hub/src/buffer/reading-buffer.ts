import type { Reading } from '@telemetryhub/common';
import { RingBuffer } from './ring-buffer.js';
import type { HubMetrics } from '../metrics.js';

export type BufferPolicy = 'drop-oldest' | 'reject';

/**
 * The hub's one buffer between intake (drivers, HTTP) and the publisher: a ring buffer of readings with the
 * configured full-buffer policy, every drop counted, and a wake-up for the publisher.
 */
export class ReadingBuffer {
  private readonly ring: RingBuffer<Reading>;
  private listener: (() => void) | undefined;

  constructor(
    capacity: number,
    readonly policy: BufferPolicy,
    private readonly metrics: HubMetrics,
  ) {
    this.ring = new RingBuffer(capacity);
    metrics.bufferCapacity.set(capacity);
    metrics.bufferSamples.set(0);
  }

  get size(): number {
    return this.ring.size;
  }
  get free(): number {
    return this.ring.free;
  }
  get capacity(): number {
    return this.ring.capacity;
  }
  /** Under `reject`, a full buffer means the hub cannot take more (readiness false, HTTP 503). */
  get isRefusing(): boolean {
    return this.policy === 'reject' && this.ring.isFull;
  }

  /**
   * Adds readings. Under `drop-oldest` every reading is accepted and evictions are counted; under `reject` the
   * readings are accepted all or none. Returns the number accepted.
   */
  add(readings: readonly Reading[]): number {
    if (this.policy === 'reject') {
      if (readings.length > this.ring.free) {
        this.metrics.bufferDropped.inc({ reason: 'rejected' }, readings.length);
        return 0;
      }
      for (const r of readings) this.ring.tryPush(r);
    } else {
      let evicted = 0;
      for (const r of readings) if (this.ring.pushDropOldest(r) !== undefined) evicted++;
      if (evicted) this.metrics.bufferDropped.inc({ reason: 'overflow' }, evicted);
    }
    this.metrics.bufferSamples.set(this.ring.size);
    this.listener?.();
    return readings.length;
  }

  take(max: number): Reading[] {
    const out = this.ring.take(max);
    this.metrics.bufferSamples.set(this.ring.size);
    return out;
  }

  /** One listener (the publisher), called after every add. */
  onAdd(listener: () => void): void {
    this.listener = listener;
  }
}
