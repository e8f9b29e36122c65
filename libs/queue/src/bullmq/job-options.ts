import type { JobsOptions } from 'bullmq';

/** What a BullMQ job of ours carries: the task's bytes exactly as produced, and when it first failed. */
export interface BullmqTaskData {
  raw: string;
  first_failed_at?: number;
}

/** Every task is one job of this name. */
export const BULLMQ_JOB_NAME = 'task';
/** The backoff type our jobs name; the consumer's strategy reads the delay the processor chose for the retry. */
export const BULLMQ_BACKOFF_TYPE = 'telemetryhub';
/**
 * BullMQ serves jobs without a priority before prioritized ones, so every job gets one: urgent tasks 1, the
 * rest 2 (lower is served first; FIFO within a priority).
 */
export const BULLMQ_PRIORITY = { urgent: 1, normal: 2 } as const;
/**
 * BullMQ must never give up on a job by itself (its attempts or stall count): the processor decides, by the
 * task's max_attempts, and dead-letters it into our DLQ with the reason. Hence limits no task reaches.
 */
export const BULLMQ_UNLIMITED = 1_000_000;

export function jobOptions(urgent: boolean): JobsOptions {
  return {
    priority: urgent ? BULLMQ_PRIORITY.urgent : BULLMQ_PRIORITY.normal,
    attempts: BULLMQ_UNLIMITED,
    backoff: { type: BULLMQ_BACKOFF_TYPE },
    removeOnComplete: true,
    // Kept: a job only fails in BullMQ's own terms if something other than this driver failed it.
    removeOnFail: false,
  };
}

/** The error a retry is recorded with; the backoff strategy reads its delay. */
export class RetryAtError extends Error {
  constructor(readonly delayMs: number) {
    super(`retry in ${delayMs} ms`);
    this.name = 'RetryAtError';
  }
}
