import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { queueKeys, type QueueKeys } from '../keys.js';
import { ACK_BATCH, DEAD_LETTER, FETCH_BATCH, REQUEUE } from '../lua/scripts.js';

/** Why a task was dead-lettered. `unknown_type`, `invalid_envelope` and `invalid_payload` are poison. */
export type DeadLetterReason =
  'invalid_envelope' | 'invalid_payload' | 'unknown_type' | 'poison' | 'attempts_exhausted';

/** What the DLQ keeps of a failed task: enough to understand it and to replay it (the raw bytes, always). */
export interface DeadLetterRecord {
  reason: DeadLetterReason;
  message: string;
  /** The task exactly as fetched, even when it is not valid JSON. */
  raw: string;
  task_id: string | null;
  task_type: string | null;
  attempts: number;
  first_failed_at: string;
  last_failed_at: string;
  consumer: string;
}

export function newConsumerId(): string {
  return `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

/**
 * The consumer side of the protocol: a task taken is moved atomically into this consumer's processing list and
 * stays there until it is acked or dead-lettered, so a consumer that dies loses nothing.
 *
 * Two connections: `redis` for scripts and acks, `blocking` for the BLMOVE that waits for work when the queue
 * is empty (a blocked connection cannot serve anything else).
 */
export class ReliableConsumer {
  readonly keys: QueueKeys;
  readonly processingKey: string;

  constructor(
    private readonly redis: Redis,
    private readonly blocking: Redis,
    queue: string,
    readonly consumerId: string = newConsumerId(),
  ) {
    this.keys = queueKeys(queue);
    this.processingKey = this.keys.processing(consumerId);
  }

  /**
   * Takes up to `max` tasks, oldest first. If none is waiting, blocks up to `blockMs` on BLMOVE for the first,
   * then takes the rest of the batch in the same call. Returns [] when nothing came.
   */
  async fetch(max: number, blockMs: number): Promise<string[]> {
    const batch = await this.fetchNow(max);
    if (batch.length || blockMs <= 0) return batch;
    const first = await this.blocking.blmove(this.keys.pending, this.processingKey, 'RIGHT', 'LEFT', blockMs / 1000);
    if (first === null) return [];
    return max > 1 ? [first, ...(await this.fetchNow(max - 1))] : [first];
  }

  private async fetchNow(max: number): Promise<string[]> {
    return (await this.redis.eval(FETCH_BATCH, 2, this.keys.pending, this.processingKey, max)) as string[];
  }

  /** Settles tasks as done. Returns how many were still held (fewer: a reaper took some back meanwhile). */
  async ack(raws: readonly string[]): Promise<number> {
    if (raws.length === 0) return 0;
    return (await this.redis.eval(ACK_BATCH, 1, this.processingKey, ...raws)) as number;
  }

  /** Moves one task from processing to the DLQ with its failure record, atomically. */
  async deadLetter(raw: string, record: Omit<DeadLetterRecord, 'raw' | 'consumer'>): Promise<void> {
    const full: DeadLetterRecord = { ...record, raw, consumer: this.consumerId };
    await this.redis.eval(DEAD_LETTER, 2, this.processingKey, this.keys.failed, raw, JSON.stringify(full));
  }

  /**
   * Gives back every task this consumer holds, to be taken next, in order. Called on shutdown for work that could
   * not be finished (e.g. PostgreSQL down), so it waits in the queue rather than in a dead consumer's list.
   */
  async requeueInFlight(): Promise<number> {
    return (await this.redis.eval(REQUEUE, 2, this.processingKey, this.keys.pending)) as number;
  }

  /** Tasks this consumer holds (fetched, not settled). */
  async inFlight(): Promise<number> {
    return this.redis.llen(this.processingKey);
  }
}
