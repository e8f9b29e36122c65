import type { Logger } from 'pino';
import {
  ValidationError,
  type DeadLetterReason,
  type FetchedTask,
  type QueueConsumer,
  briefError,
  fullJitterBackoff,
  sleep,
} from '@telemetryhub/common';
import type { HandlerRegistry, ParsedTask, TaskHandler } from '../handlers/index.js';
import type { ProcessorMetrics } from '../metrics.js';
import type { DbFailureKind } from '../store/pg-errors.js';
import { createDecodePool, type TaskDecodePool } from '../decode/decode-pool.js';
import type { DecodedTask, TaskHeader } from '../decode/task-decoder.js';

export interface TaskRunnerOptions {
  consumer: Pick<QueueConsumer, 'ack' | 'deadLetter' | 'retryLater' | 'firstFailure'>;
  handlers: HandlerRegistry;
  metrics: ProcessorMetrics;
  log: Logger;
  classify: (err: unknown) => DbFailureKind;
  /** Default when a task does not set its own `max_attempts`. */
  maxAttempts: number;
  /** Backoff of a transient failure: full jitter up to base·2^(attempt−1), capped. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Wait between tries while a dependency is unavailable (doubles up to retryMaxMs). */
  unavailableRetryMs?: number;
  /**
   * Decodes fetched tasks (parse, validate, upcast, pseudonymise), usually in worker threads. Default: inline, no
   * clock-skew guard, no pseudonymisation.
   */
  decoder?: TaskDecodePool;
}

/** Outcome of one fetched batch. `unsettled` tasks stay in the processing list (dependency down at shutdown). */
export interface BatchOutcome {
  acked: number;
  retried: number;
  deadLettered: number;
  unsettled: number;
}

interface Delivery extends ParsedTask {
  /** This delivery's number: 1 for the first. */
  attempt: number;
  maxAttempts: number;
}

/**
 * Runs one fetched batch: validate every task, dispatch groups of tasks to their handler, then settle each task
 * exactly once — acked, scheduled for a retry, or dead-lettered with its reason. Bad input never throws out of
 * here.
 *
 * Failures, by kind (see store/pg-errors.ts):
 * - dependency unavailable: the batch is held and retried in place until it succeeds or shutdown begins — an
 *   outage is not the task's fault, so it costs no attempt, and fetching pauses meanwhile (backpressure);
 * - transient: each task goes to the delayed set with exponential backoff and full jitter, one attempt counted;
 *   past `maxAttempts` it is dead-lettered as `attempts_exhausted`;
 * - permanent: the group is retried task by task to find the poison task; only that one is dead-lettered.
 */
export class TaskRunner {
  private readonly decoder: TaskDecodePool;

  constructor(private readonly o: TaskRunnerOptions) {
    this.decoder = o.decoder ?? createDecodePool({ threads: 0 });
  }

  /** `keepTrying` says whether to go on retrying while a dependency is down (false once shutdown has begun). */
  async run(fetched: readonly FetchedTask[], keepTrying: () => boolean): Promise<BatchOutcome> {
    const outcome: BatchOutcome = { acked: 0, retried: 0, deadLettered: 0, unsettled: 0 };
    const groups = new Map<TaskHandler, Delivery[]>();
    const decoded = await this.decoder.decode(fetched.map((t) => t.raw));
    const now = Date.now();
    for (const [i, task] of fetched.entries()) {
      const parsed = await this.validate(task, decoded[i]!, outcome);
      if (!parsed) continue;
      this.o.metrics.taskWait.observe(Math.max(0, (now - Date.parse(parsed.delivery.header.created_at)) / 1000));
      const group = groups.get(parsed.handler) ?? [];
      group.push(parsed.delivery);
      groups.set(parsed.handler, group);
    }
    for (const [handler, deliveries] of groups) await this.runGroup(handler, deliveries, keepTrying, outcome);
    return outcome;
  }

  /** Settles a task that cannot run (dead-letters it, with the reason) or returns it with its handler. */
  private async validate(
    fetched: FetchedTask,
    decoded: DecodedTask,
    outcome: BatchOutcome,
  ): Promise<{ delivery: Delivery; handler: TaskHandler } | null> {
    const { raw } = fetched;
    if (decoded.kind === 'invalid_envelope') {
      await this.deadLetter(raw, null, fetched.redeliveries + 1, 'invalid_envelope', decoded.message, outcome);
      return null;
    }
    const { header } = decoded;
    const attempt = header.attempts + fetched.redeliveries + 1;
    const maxAttempts = header.max_attempts ?? this.o.maxAttempts;
    if (attempt > maxAttempts) {
      // Delivered again after its last allowed attempt: its consumers died on it (returned by the reaper).
      const message = `delivered ${attempt} times, max_attempts is ${maxAttempts}; its consumers stopped without settling it`;
      await this.deadLetter(raw, header, attempt, 'attempts_exhausted', message, outcome);
      return null;
    }
    const handler = this.o.handlers.get(header.type);
    if (!handler) {
      const message = `no handler for task type "${header.type}" (known: ${this.o.handlers.types.join(', ')})`;
      await this.deadLetter(raw, header, attempt, 'unknown_type', message, outcome);
      return null;
    }
    if (decoded.kind === 'invalid_payload') {
      await this.deadLetter(raw, header, attempt, 'invalid_payload', decoded.message, outcome);
      return null;
    }
    const { readings, statistics } = decoded;
    return {
      delivery: { raw, header, readings, ...(statistics ? { statistics } : {}), attempt, maxAttempts },
      handler,
    };
  }

  private async runGroup(
    handler: TaskHandler,
    group: Delivery[],
    keepTrying: () => boolean,
    outcome: BatchOutcome,
  ): Promise<void> {
    for (let waited = 0; ; waited++) {
      let kind: DbFailureKind = 'permanent';
      let error: unknown = undefined;
      try {
        await handler.handle(group);
      } catch (err) {
        error = err;
        kind = err instanceof ValidationError ? 'permanent' : this.o.classify(err);
      }
      if (error === undefined) {
        // Outside the classified block: a Redis error while acking is not a database failure, and must not make
        // the handler run again. It propagates; the consumer loop gives the unsettled tasks back to the queue.
        await this.o.consumer.ack(group.map((t) => t.raw));
        for (const t of group) this.o.metrics.tasksProcessed.inc({ type: t.header.type, outcome: 'acked' });
        outcome.acked += group.length;
        return;
      }
      if (kind === 'permanent') return this.isolatePoison(handler, group, error, keepTrying, outcome);
      if (kind === 'transient') {
        for (const t of group) await this.retryOrGiveUp(t, error, outcome);
        return;
      }
      if (!keepTrying()) {
        this.o.log.warn(
          { err: briefError(error), tasks: group.length },
          'dependency unavailable at shutdown; tasks stay unsettled',
        );
        outcome.unsettled += group.length;
        return;
      }
      const base = this.o.unavailableRetryMs ?? 500;
      const delay = Math.min(this.o.retryMaxMs, base * 2 ** Math.min(waited, 10));
      this.o.metrics.dependencyWaits.inc();
      if (waited === 0 || waited % 10 === 0) {
        this.o.log.warn(
          { err: briefError(error), tasks: group.length, delayMs: delay },
          'dependency unavailable; holding tasks and retrying',
        );
      }
      await sleep(delay);
    }
  }

  private async retryOrGiveUp(t: Delivery, err: unknown, outcome: BatchOutcome): Promise<void> {
    const message = (err as Error).message;
    if (t.attempt >= t.maxAttempts) {
      await this.deadLetter(t.raw, t.header, t.attempt, 'attempts_exhausted', message, outcome);
      return;
    }
    const delay = fullJitterBackoff(t.attempt - 1, this.o.retryBaseMs, this.o.retryMaxMs);
    await this.o.consumer.retryLater(t.raw, Date.now() + delay);
    this.o.metrics.tasksProcessed.inc({ type: t.header.type, outcome: 'retried' });
    this.o.log.info(
      { taskId: t.header.id, attempt: t.attempt, delayMs: delay, err: briefError(err) },
      'transient failure; retry scheduled',
    );
    outcome.retried++;
  }

  /** A permanent failure of a group: retry task by task so that only the poison task goes to the DLQ. */
  private async isolatePoison(
    handler: TaskHandler,
    group: Delivery[],
    err: unknown,
    keepTrying: () => boolean,
    outcome: BatchOutcome,
  ): Promise<void> {
    if (group.length === 1) {
      const t = group[0]!;
      await this.deadLetter(t.raw, t.header, t.attempt, 'poison', (err as Error).message, outcome);
      return;
    }
    for (const t of group) await this.runGroup(handler, [t], keepTrying, outcome);
  }

  private async deadLetter(
    raw: string,
    header: TaskHeader | null,
    attempt: number,
    reason: DeadLetterReason,
    message: string,
    outcome: BatchOutcome,
  ): Promise<void> {
    const now = new Date();
    const first = attempt > 1 ? await this.o.consumer.firstFailure(raw) : null;
    await this.o.consumer.deadLetter(raw, {
      reason,
      message,
      task_id: header?.id ?? null,
      task_type: header?.type ?? null,
      attempts: attempt,
      first_failed_at: (first ?? now).toISOString(),
      last_failed_at: now.toISOString(),
    });
    this.o.metrics.dlqTasks.inc({ reason });
    // Only registered types become label values: a producer's typo must not grow the metric's cardinality.
    const type = header && this.o.handlers.get(header.type) ? header.type : 'unknown';
    this.o.metrics.tasksProcessed.inc({ type, outcome: 'dead_lettered' });
    this.o.log.warn({ taskId: header?.id, type: header?.type, reason, message }, 'task dead-lettered');
    outcome.deadLettered++;
  }
}
