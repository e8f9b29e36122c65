import type { Reading } from '@telemetryhub/schemas';
import { RingBuffer } from './ring-buffer.js';
import type { AckTicket } from './ack-ticket.js';
import type { HubMetrics } from '../metrics/hub-metrics.js';
import type { TraceOrigin } from './trace-origin.js';

export type BufferPolicy = 'drop-oldest' | 'reject';

/** Readings taken for publishing, with the ticket each one's producer waits on (undefined: nobody waits). */
export interface TakenReadings {
  readings: Reading[];
  tickets: Array<AckTicket | undefined>;
  /** Where each reading came in (traced hubs only). */
  origins?: Array<TraceOrigin | undefined>;
}

/**
 * The hub's one buffer between intake (drivers, HTTP, MQTT) and the publisher: a ring buffer of readings with the
 * configured full-buffer policy, every drop counted, and a wake-up for the publisher. Beside each reading, in a
 * second ring kept in step, the ack ticket of the producer waiting for it to be durable (ack-ticket.ts); a
 * reading evicted under `drop-oldest` fails its ticket, so its producer is told to resend instead of a 202. A
 * traced hub keeps a third ring in step: each reading's trace origin, for the span that publishes it.
 */
export class ReadingBuffer {
  private readonly ring: RingBuffer<Reading>;
  private readonly tickets: RingBuffer<AckTicket | undefined>;
  /** Present only when tracing: an untraced hub pays nothing per reading for it. */
  private readonly origins: RingBuffer<TraceOrigin | undefined> | undefined;
  /** Buffered readings whose producer waits eagerly (cannot send more until they are durable). */
  private eager = 0;
  private listener: (() => void) | undefined;

  constructor(
    capacity: number,
    readonly policy: BufferPolicy,
    private readonly metrics: HubMetrics,
    opts: { traced?: boolean } = {},
  ) {
    this.ring = new RingBuffer(capacity);
    this.tickets = new RingBuffer(capacity);
    this.origins = opts.traced ? new RingBuffer(capacity) : undefined;
    metrics.bufferCapacity.set(capacity);
    metrics.bufferReadings.set(0);
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
  /** True while a producer that cannot send more waits on buffered readings: the publisher should not linger. */
  get hasEagerWaiter(): boolean {
    return this.eager > 0;
  }
  /** Under `reject`, a full buffer means the hub cannot take more (readiness false, HTTP 503). */
  get isRefusing(): boolean {
    return this.policy === 'reject' && this.ring.isFull;
  }

  /**
   * Adds readings. Under `drop-oldest` every reading is accepted and evictions are counted; under `reject` the
   * readings are accepted all or none. Returns the number accepted.
   */
  add(readings: readonly Reading[], ticket?: AckTicket, origin?: TraceOrigin): number {
    const origins = this.origins;
    if (this.policy === 'reject') {
      if (readings.length > this.ring.free) {
        this.metrics.bufferDropped.inc({ reason: 'rejected' }, readings.length);
        return 0;
      }
      for (const r of readings) {
        this.ring.tryPush(r);
        this.tickets.tryPush(ticket);
        origins?.tryPush(origin);
      }
    } else {
      let evicted = 0;
      for (const r of readings) {
        origins?.pushDropOldest(origin);
        if (this.ring.pushDropOldest(r) === undefined) {
          this.tickets.pushDropOldest(ticket);
          continue;
        }
        evicted++;
        const lost = this.tickets.pushDropOldest(ticket);
        if (lost?.eager) this.eager--;
        lost?.fail('evicted');
      }
      if (evicted) this.metrics.bufferDropped.inc({ reason: 'overflow' }, evicted);
    }
    if (ticket?.eager) this.eager += readings.length;
    this.metrics.bufferReadings.set(this.ring.size);
    this.listener?.();
    return readings.length;
  }

  /** The oldest `max` readings (and their tickets), for the publisher. */
  take(max: number): TakenReadings {
    const readings = this.ring.take(max);
    const tickets = this.tickets.take(max);
    if (this.eager > 0) for (const t of tickets) if (t?.eager) this.eager--;
    this.metrics.bufferReadings.set(this.ring.size);
    return this.origins ? { readings, tickets, origins: this.origins.take(max) } : { readings, tickets };
  }

  /** One listener (the publisher), called after every add. */
  onAdd(listener: () => void): void {
    this.listener = listener;
  }
}
