import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { InstantSchema, type TaskEnvelope } from '@telemetryhub/schemas';

/*
 * What every queue driver shares (redis-list, BullMQ, sharded): the task as producers hand it over and as consumers
 * take it, the record a dead letter keeps, the depths a queue reports. The BullMQ driver depends on this module and
 * on driver.ts, never on the redis-list driver (eslint.config.js holds it to that); sharding wraps redis-list.
 */

/** A task already serialized (e.g. read back from the hub's spool), with the priority that picks its lane. */
export interface SerializedTask {
  readonly json: string;
  readonly priority: number;
}

export type QueuedTask = TaskEnvelope | SerializedTask | string;

export interface QueueProducerOptions {
  /** Refuse (QueueFullError) instead of pushing past this many pending tasks in a lane. Default: no limit. */
  maxDepth?: number;
  /** Tasks with at least this priority go to the urgent lane (`<q>:pending:high`). Default 80. */
  urgentPriority?: number;
}

export function serializeTask(task: QueuedTask): string {
  if (typeof task === 'string') return task;
  return 'json' in task ? task.json : JSON.stringify(task);
}

/** Why a task was dead-lettered. All but `attempts_exhausted` are poison: retrying cannot help. */
export type DeadLetterReason =
  'invalid_envelope' | 'invalid_payload' | 'unknown_type' | 'poison' | 'attempts_exhausted';

/** What the DLQ keeps of a failed task: enough to understand it and to replay it (the raw bytes, always). */
export interface DeadLetterRecord {
  reason: DeadLetterReason;
  message: string;
  /** The task exactly as fetched, even when it is not valid JSON; for a part, the part as a task of its own. */
  raw: string;
  /**
   * Set when this record is one part of a task whose other readings were stored: the id of that task. The part's
   * `raw` is a task of its own (the same type, carrying only the failed event), replayable alone.
   */
  part_of?: string;
  task_id: string | null;
  task_type: string | null;
  /** Deliveries made, this one included. */
  attempts: number;
  first_failed_at: string;
  last_failed_at: string;
  consumer: string;
}

/**
 * A task's bytes as a consumer holds them from fetch to settle: a Buffer (the Redis-list driver's) or a string
 * (BullMQ's, whose job data is parsed text already); every settling method takes either. The Redis-list driver
 * hands out Buffers because a fetched batch stays in hand as long as its readings are being stored: held as
 * strings — tens of KiB each, on the JavaScript heap — every task was copied twice by the young-generation
 * collector, a large part of its work in the processor (docs/benchmarks.md, "The collector"); a Buffer's bytes
 * lie outside the heap. They are also exactly the bytes Redis holds, so a task that is not valid UTF-8 is still acked by value.
 */
export type RawTask = string | Buffer;

/** A raw task as text (its bytes read as UTF-8). */
export function rawText(raw: RawTask): string {
  return typeof raw === 'string' ? raw : raw.toString('utf8');
}

/** A task as taken from the queue. */
export interface FetchedTask {
  /** The bytes exactly as stored (the key to ack, retry or dead-letter it). */
  raw: RawTask;
  /** Deliveries the queue recorded before this one (retries, returns by the reaper). */
  redeliveries: number;
}

/** A consumer id unique across hosts and restarts: host, pid and a random suffix. */
export function newConsumerId(): string {
  return `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

export interface QueueDepths {
  /** Waiting in both lanes. */
  pending: number;
  /** Of which in the urgent lane. */
  pendingUrgent: number;
  processing: number;
  delayed: number;
  failed: number;
  consumers: number;
  /** Age of the oldest pending task by its created_at (s), or null when empty or unreadable. */
  oldestPendingAgeSeconds: number | null;
}

/** Age of a raw task by its created_at, read by the envelope's own rule for times (InstantSchema). */
export function taskAgeSeconds(raw: string | null, now: number): number | null {
  if (!raw) return null;
  let createdAt: unknown;
  try {
    createdAt = (JSON.parse(raw) as { created_at?: unknown }).created_at;
  } catch {
    return null;
  }
  const instant = InstantSchema.safeParse(createdAt);
  return instant.success ? Math.max(0, (now - Date.parse(instant.data)) / 1000) : null;
}
