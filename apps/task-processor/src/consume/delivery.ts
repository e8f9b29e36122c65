import { traceIdOf } from '@telemetryhub/service-kit';
import type { ParsedTask, TaskHeader } from '../domain/task.js';
import type { RejectedEvent } from '../decode/task-decoder.js';
import type { DbFailureKind } from '../store/pg-errors.js';

/* What the task runner hands between its steps: a fetched task ready to run, how a run failed, how a batch ended. */

/**
 * Outcome of one fetched batch. `unsettled` tasks stay in the processing list (dependency down at shutdown). A task
 * whose good readings were stored and bad events dead-lettered alone counts as acked, each bad event as one
 * dead-lettered (it is a DLQ entry of its own).
 */
export interface BatchOutcome {
  acked: number;
  retried: number;
  deadLettered: number;
  unsettled: number;
}

export interface Delivery extends ParsedTask {
  /** This delivery's number: 1 for the first. */
  attempt: number;
  maxAttempts: number;
  /** Events in the payload. */
  events: number;
  /** Events decoding refused (the rest is stored; these go to the DLQ alone). */
  rejected?: RejectedEvent[];
  /** The payload index of each reading's event, where it is not the reading's own index. */
  sources?: number[];
}

/** A handler run that did not succeed: how it failed, once outages have been waited out. */
export type Failure = { kind: Exclude<DbFailureKind, 'unavailable'> | 'unsettled'; error: unknown };

/** A task's fields on a log line: its id, and the trace it belongs to (from its envelope, traced here or not). */
export function logFields(header: TaskHeader | null): { taskId?: string; trace_id?: string } {
  return { taskId: header?.id, trace_id: traceIdOf(header?.traceparent) };
}

/** An event dead-lettered alone, on its log line: its task's fields, the part's own id, its device, and why. */
export function partLogFields(
  header: TaskHeader,
  part: { task_id: string | null; reason: string; message: string },
  deviceId: string | undefined,
): Record<string, unknown> {
  return {
    ...logFields(header),
    taskId: part.task_id,
    partOf: header.id,
    ...(deviceId === undefined ? {} : { deviceId }),
    reason: part.reason,
    message: part.message,
  };
}
