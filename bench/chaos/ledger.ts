import { randomUUID } from 'node:crypto';

/** One reading as a producer sends it (the internal reading shape, which both ingest paths accept). */
export interface LedgerEvent {
  event_id: string;
  device_id: string;
  metric: string;
  event_time: string;
  value: number;
  unit: string;
}

/** Something sent that must be dead-lettered, with the reason the DLQ must give. */
export interface PoisonItem {
  what: string;
  reason: string;
}

const METRICS = ['temperature', 'humidity', 'pressure'];

/**
 * What the chaos run sent and what producers were told: every event by id, the ids acknowledged (a 202 from the
 * hub, a successful LPUSH), and the poison sent on purpose. The verdict compares PostgreSQL and the DLQ with it.
 */
export class Ledger {
  readonly events = new Map<string, LedgerEvent>();
  readonly acknowledged = new Set<string>();
  readonly poison: PoisonItem[] = [];
  /** Sends of an event already acknowledged (duplicates on purpose). */
  resent = 0;

  /**
   * `n` events of `devices` devices × 3 metrics, event times spread over the `spanMs` before `endMs` and shuffled
   * (out of order), values multiples of 0.25 so that every sum is exact in binary and rollups compare exactly.
   */
  generate(n: number, devices: number, endMs: number, spanMs: number): LedgerEvent[] {
    const out: LedgerEvent[] = [];
    for (let i = 0; i < n; i++) {
      const e: LedgerEvent = {
        event_id: randomUUID(),
        device_id: `chaos-${i % devices}`,
        metric: METRICS[Math.floor(i / devices) % METRICS.length]!,
        event_time: new Date(endMs - Math.floor((i / n) * spanMs)).toISOString(),
        value: ((i * 7) % 400) / 4,
        unit: 'u',
      };
      this.events.set(e.event_id, e);
      out.push(e);
    }
    for (let i = out.length - 1; i > 0; i--) {
      const j = (i * 7919) % (i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  acknowledge(events: readonly LedgerEvent[]): void {
    for (const e of events) {
      if (this.acknowledged.has(e.event_id)) this.resent++;
      this.acknowledged.add(e.event_id);
    }
  }
}
