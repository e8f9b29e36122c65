import type { Reading, TaskEnvelope } from '@telemetryhub/schemas';
import type { RawTask } from '@telemetryhub/queue';

/*
 * The task as every stage of the processor sees it, once decoded: decode produces it, handlers take it, storage
 * and statistics record it. Every folder may import this module; it imports none of theirs.
 */

/** A task's envelope without its payload (which decoding turned into readings). */
export type TaskHeader = Omit<TaskEnvelope, 'payload'>;

/** Statistics of one metric over the readings of one task (a batch), as `telemetry.analyze` stores them. */
export interface MetricStatistics {
  metric: string;
  readings: number;
  /** Distinct devices that sent readings of this metric in the batch. */
  devices: number;
  min: number;
  max: number;
  mean: number;
  /** Sample standard deviation; null for a single reading. */
  stddev: number | null;
  /** Earliest and latest event time (ISO-8601, UTC). */
  first_event_time: string;
  last_event_time: string;
}

/** A task that passed validation: its envelope (less the payload) and the readings its payload upcast to. */
export interface ParsedTask {
  /** The task exactly as fetched (the key to ack or dead-letter it). */
  raw: RawTask;
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
