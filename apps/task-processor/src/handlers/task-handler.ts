import type { Reading, TaskEnvelope } from '@telemetryhub/common';

/** A task that passed validation: its envelope and the readings its payload upcast to. */
export interface ParsedTask {
  /** The task exactly as fetched (the key to ack or dead-letter it). */
  raw: string;
  envelope: TaskEnvelope;
  readings: Reading[];
}

/**
 * Handles a group of tasks in one go (so their readings reach PostgreSQL in one statement). Throwing fails the
 * whole group: a retryable error (see store/pg-errors.ts) is retried with backoff; a permanent one makes the
 * runner retry task by task to find the poison task and dead-letter only it.
 */
export interface TaskHandler {
  readonly name: string;
  handle(tasks: readonly ParsedTask[]): Promise<void>;
}
