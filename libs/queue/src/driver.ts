import type { DeadLetterRecord, FetchedTask, QueuedTask, RawTask } from './task.js';

/** The queue drivers (QUEUE_DRIVER): our Redis-list protocol (default) or BullMQ underneath. */
export const QUEUE_DRIVERS = ['redis-list', 'bullmq'] as const;
export type QueueDriverName = (typeof QUEUE_DRIVERS)[number];

/** What producers (the hub, tests, the DLQ's replay) need of a queue, whichever driver carries it. */
export interface QueueProducer {
  readonly queue: string;
  readonly maxDepth: number | undefined;
  /** Shards the queue is spread over (QUEUE_SHARDS); tasks route by their first reading's device. Absent: 1. */
  readonly shards?: number;
  /** Enqueues tasks in order (the first is consumed first); rejects with QueueFullError at the depth limit. */
  enqueue(tasks: ReadonlyArray<QueuedTask>): Promise<number>;
  /** Several batches in one round trip where the driver can; one flag per batch (false = refused, queue full). */
  enqueueBatches(batches: ReadonlyArray<ReadonlyArray<QueuedTask>>): Promise<boolean[]>;
  /** Tasks waiting to be taken (both priority lanes). */
  pendingDepth(): Promise<number>;
  close?(): Promise<void>;
}

/**
 * What the processor needs of a queue: reliable, batched fetch; settle each task exactly once (ack, retry later,
 * dead-letter); a lease kept alive by a heartbeat; give back what it holds.
 */
export interface QueueConsumer {
  readonly consumerId: string;
  /** Up to `max` tasks, waiting at most `blockMs` for the first. */
  fetch(max: number, blockMs: number): Promise<FetchedTask[]>;
  /** Settles tasks as done. Returns how many were still held (the rest were taken back meanwhile). */
  ack(raws: readonly RawTask[]): Promise<number>;
  /** Another delivery at `dueMs`, counting this attempt. False if the task was no longer held. */
  retryLater(raw: RawTask, dueMs: number): Promise<boolean>;
  /** When this task first failed (a retry was scheduled), or null. */
  firstFailure(raw: RawTask): Promise<Date | null>;
  /** Moves the task to the dead-letter queue (`<q>:failed`) with its failure record. */
  deadLetter(raw: RawTask, record: Omit<DeadLetterRecord, 'raw' | 'consumer'>): Promise<void>;
  /**
   * Settles a task whose good part is done by dead-lettering its failed parts in its place: each record carries
   * its own `raw` (a task of its own, replayable alone). Atomic where the driver can be (redis-list: one script).
   */
  deadLetterParts(raw: RawTask, parts: ReadonlyArray<Omit<DeadLetterRecord, 'consumer'>>): Promise<void>;
  startHeartbeat(onError?: (err: unknown) => void): void;
  stopHeartbeat(): void;
  /** Gives back every task held, to be taken next, without counting an attempt. Returns how many. */
  requeueInFlight(opts?: { keepHeartbeat?: boolean }): Promise<number>;
  /** Tasks held (fetched, not settled). */
  inFlight(): Promise<number>;
  /** Releases the driver's own connections (BullMQ); after requeueInFlight. */
  close?(): Promise<void>;
}
