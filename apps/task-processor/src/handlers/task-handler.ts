import type { Reading } from '@telemetryhub/schemas';
import type { TaskHeader } from '../decode/task-decoder.js';
import type { MetricStatistics } from './batch-statistics.js';

/** A task that passed validation: its envelope (less the payload) and the readings its payload upcast to. */
export interface ParsedTask {
  /** The task exactly as fetched (the key to ack or dead-letter it). */
  raw: string;
  header: TaskHeader;
  readings: Reading[];
  /** Per-metric statistics of the readings (`telemetry.analyze`: computed where the task was decoded). */
  statistics?: MetricStatistics[];
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
