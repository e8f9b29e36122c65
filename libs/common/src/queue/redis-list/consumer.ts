import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { RedisClient } from '../redis-connection.js';
import { queueKeys, type QueueKeys } from '../keys.js';
import { ACK_BATCH, ACK_RUN, DEAD_LETTER, FETCH_BATCH, REQUEUE, RETRY_LATER } from '../lua/scripts.js';
import { runScript } from '../lua/run-script.js';

/** Why a task was dead-lettered. All but `attempts_exhausted` are poison: retrying cannot help. */
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
  /** Deliveries made, this one included. */
  attempts: number;
  first_failed_at: string;
  last_failed_at: string;
  consumer: string;
}

/** A task as taken from the queue. */
export interface FetchedTask {
  /** The bytes exactly as stored (the key to ack, retry or dead-letter it). */
  raw: string;
  /** Deliveries the queue recorded before this one (retries, returns by the reaper). */
  redeliveries: number;
}

export interface ReliableConsumerOptions {
  consumerId?: string;
  /**
   * Starvation guard: after this many fetches in a row served only from the urgent lane while normal work
   * waits, one fetch serves the normal lane first. Default 4 (normal work gets at least every 5th fetch).
   */
  maxUrgentStreak?: number;
  /** How long a lease lasts without a heartbeat (ms); after it the reaper returns this consumer's tasks. */
  leaseMs?: number;
}

export function newConsumerId(): string {
  return `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

/**
 * The consumer side of the protocol: a task taken is moved atomically into this consumer's processing list and
 * stays there until it is acked, scheduled for retry or dead-lettered, so a consumer that dies loses nothing. The
 * consumer holds a lease (`<q>:consumers`), renewed by every fetch and by a heartbeat; when the lease expires the
 * reaper (any consumer's QueueMaintenance) returns its tasks to the queue.
 *
 * Two connections: `redis` for scripts, `blocking` for the BLMOVE that waits when the queue is empty.
 */
export class ReliableConsumer {
  readonly keys: QueueKeys;
  readonly consumerId: string;
  readonly processingKey: string;
  readonly leaseMs: number;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private urgentStreak = 0;
  private readonly maxUrgentStreak: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly blocking: RedisClient,
    readonly queue: string,
    opts: ReliableConsumerOptions = {},
  ) {
    this.keys = queueKeys(queue);
    this.consumerId = opts.consumerId ?? newConsumerId();
    this.processingKey = this.keys.processing(this.consumerId);
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.maxUrgentStreak = opts.maxUrgentStreak ?? 4;
  }

  /**
   * Takes up to `max` tasks: urgent lane first (with the starvation guard), oldest first within a lane. If none
   * is waiting, blocks on BLMOVE for the first normal task in slices of at most 250 ms, looking at the urgent
   * lane between slices (BLMOVE waits on one list only), until `blockMs` has passed. Returns [] if nothing came.
   */
  async fetch(max: number, blockMs: number): Promise<FetchedTask[]> {
    const deadline = Date.now() + blockMs;
    for (;;) {
      const batch = await this.fetchNow(max);
      if (batch.length) return batch;
      const left = deadline - Date.now();
      if (left <= 0) return [];
      // No heartbeat needed here: fetchNow's script renewed the lease a moment ago and a slice is ≤ 250 ms.
      const first = await this.waitForFirst(Math.min(250, left));
      if (first === null) continue;
      const rest = max > 1 ? await this.fetchNow(max - 1) : [];
      return [first, ...rest];
    }
  }

  /**
   * Waits up to `ms` (at least 10) on the normal lane with BLMOVE and takes the first task that comes, or null.
   * The urgent lane is not watched meanwhile: keep `ms` short and call fetchNow between waits.
   */
  async waitForFirst(ms: number): Promise<FetchedTask | null> {
    const raw = await this.blocking.blmove(
      this.keys.pending,
      this.processingKey,
      'RIGHT',
      'LEFT',
      Math.max(10, ms) / 1000,
    );
    if (raw === null) return null;
    return { raw, redeliveries: Number((await this.redis.hget(this.keys.attempts, sha1(raw))) ?? 0) };
  }

  /**
   * Takes up to `max` waiting tasks in one script; never blocks. `guarded` (default): urgent lane first, with
   * this consumer's starvation guard. `urgent`: the urgent lane only; `normal-first`: the normal lane, then the
   * urgent one — for a caller keeping its own guard over several queues (ShardedConsumer).
   */
  async fetchNow(max: number, order: 'guarded' | 'urgent' | 'normal-first' = 'guarded'): Promise<FetchedTask[]> {
    const normalFirst = order === 'normal-first' || (order === 'guarded' && this.urgentStreak >= this.maxUrgentStreak);
    const lanes =
      order === 'urgent'
        ? [this.keys.pendingHigh, this.keys.pendingHigh]
        : normalFirst
          ? [this.keys.pending, this.keys.pendingHigh]
          : [this.keys.pendingHigh, this.keys.pending];
    const [tasks, fromFirst, counts] = (await runScript(
      this.redis,
      FETCH_BATCH,
      5,
      lanes[0]!,
      lanes[1]!,
      this.processingKey,
      this.keys.consumers,
      this.keys.attempts,
      max,
      this.consumerId,
      Date.now() + this.leaseMs,
    )) as [string[], number, number[]];
    const out = tasks.map((raw, i) => ({ raw, redeliveries: counts[i] ?? 0 }));
    if (order !== 'guarded') return out;
    const fromNormal = normalFirst ? fromFirst > 0 : fromFirst < tasks.length;
    // The streak counts fetches that took urgent work only while normal work may be waiting behind it.
    if (out.length === 0 || fromNormal) this.urgentStreak = 0;
    else this.urgentStreak++;
    return out;
  }

  /**
   * Settles tasks as done; pass them in fetch order. Returns how many were still held (fewer: the reaper took
   * some back meanwhile). A healthy batch is one contiguous run at the tail of the processing list and is
   * trimmed without sending the tasks back (ackRun); anything else is removed task by task (ackBatch).
   */
  async ack(raws: readonly string[]): Promise<number> {
    if (raws.length === 0) return 0;
    if (raws.length > 1) {
      const n = (await runScript(
        this.redis,
        ACK_RUN,
        2,
        this.processingKey,
        this.keys.attempts,
        raws.length,
        raws[0]!,
        raws.at(-1)!,
      )) as number;
      if (n >= 0) return n;
    }
    return (await runScript(this.redis, ACK_BATCH, 2, this.processingKey, this.keys.attempts, ...raws)) as number;
  }

  /** Schedules a task for another delivery at `dueMs`, counting this attempt. False if it was no longer held. */
  async retryLater(raw: string, dueMs: number): Promise<boolean> {
    const moved = await runScript(
      this.redis,
      RETRY_LATER,
      3,
      this.processingKey,
      this.keys.delayed,
      this.keys.attempts,
      raw,
      dueMs,
      Date.now(),
    );
    return moved === 1;
  }

  /** When this task first failed (as recorded by retryLater), or null if it never failed before. */
  async firstFailure(raw: string): Promise<Date | null> {
    const ms = await this.redis.hget(this.keys.attempts, `${sha1(raw)}:first`);
    return ms ? new Date(Number(ms)) : null;
  }

  /** Moves one task from processing to the DLQ with its failure record, atomically. */
  async deadLetter(raw: string, record: Omit<DeadLetterRecord, 'raw' | 'consumer'>): Promise<void> {
    const full: DeadLetterRecord = { ...record, raw, consumer: this.consumerId };
    await runScript(
      this.redis,
      DEAD_LETTER,
      3,
      this.processingKey,
      this.keys.failed,
      this.keys.attempts,
      raw,
      JSON.stringify(full),
    );
  }

  /** Renews this consumer's lease. */
  async heartbeat(): Promise<void> {
    await this.redis.zadd(this.keys.consumers, Date.now() + this.leaseMs, this.consumerId);
  }

  /** Renews the lease every third of its length until stopHeartbeat(); a failed beat is retried next time. */
  startHeartbeat(onError: (err: unknown) => void = () => {}): void {
    if (this.heartbeatTimer) return;
    void this.heartbeat().catch(onError);
    this.heartbeatTimer = setInterval(() => void this.heartbeat().catch(onError), Math.max(100, this.leaseMs / 3));
    this.heartbeatTimer.unref();
  }

  stopHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  /**
   * Gives back every task this consumer holds, to be taken next, in order, and drops the lease (no attempt is
   * counted). For work that could not be finished, e.g. PostgreSQL down at shutdown, or a batch whose settling
   * failed (`keepHeartbeat`: the consumer goes on, its next fetch takes a new lease).
   */
  async requeueInFlight(opts: { keepHeartbeat?: boolean } = {}): Promise<number> {
    if (!opts.keepHeartbeat) this.stopHeartbeat();
    return (await runScript(
      this.redis,
      REQUEUE,
      4,
      this.processingKey,
      this.keys.pending,
      this.keys.consumers,
      this.keys.attempts,
      this.consumerId,
      0,
      '',
    )) as number;
  }

  /** Tasks waiting in the urgent lane. */
  async urgentDepth(): Promise<number> {
    return this.redis.llen(this.keys.pendingHigh);
  }

  /** Tasks this consumer holds (fetched, not settled). */
  async inFlight(): Promise<number> {
    return this.redis.llen(this.processingKey);
  }
}

/** Same digest as Lua's redis.sha1hex: the attempt-count key of a raw task. */
export function sha1(raw: string): string {
  return createHash('sha1').update(raw, 'utf8').digest('hex');
}
