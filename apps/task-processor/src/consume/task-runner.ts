import type { Logger } from 'pino';
import {
  ValidationError,
  parseEvents,
  parseTaskEnvelope,
  summarizeIssues,
  type DeadLetterReason,
  type ReliableConsumer,
  type TaskEnvelope,
} from '@telemetryhub/common';
import type { HandlerRegistry, ParsedTask, TaskHandler } from '../handlers/index.js';
import type { ProcessorMetrics } from '../metrics.js';
import { fullJitterBackoff } from './backoff.js';

export interface TaskRunnerOptions {
  consumer: Pick<ReliableConsumer, 'ack' | 'deadLetter'>;
  handlers: HandlerRegistry;
  metrics: ProcessorMetrics;
  log: Logger;
  isRetryable: (err: unknown) => boolean;
  retryBaseMs: number;
  retryMaxMs: number;
}

/** Outcome of one fetched batch. `unsettled` tasks stay in the processing list (transient failure at shutdown). */
export interface BatchOutcome {
  acked: number;
  deadLettered: number;
  unsettled: number;
}

/**
 * Runs one fetched batch: validate every task, dispatch groups of tasks to their handler, then settle each task
 * exactly once — acked, or dead-lettered with its reason. Bad input never throws out of here.
 */
export class TaskRunner {
  constructor(private readonly o: TaskRunnerOptions) {}

  /** `keepTrying` says whether to go on retrying a transient failure (false once shutdown has begun). */
  async run(raws: readonly string[], keepTrying: () => boolean): Promise<BatchOutcome> {
    const outcome: BatchOutcome = { acked: 0, deadLettered: 0, unsettled: 0 };
    const groups = new Map<TaskHandler, ParsedTask[]>();
    const now = Date.now();
    for (const raw of raws) {
      const parsed = await this.validate(raw, outcome);
      if (!parsed) continue;
      this.o.metrics.taskWait.observe(Math.max(0, (now - Date.parse(parsed.task.envelope.created_at)) / 1000));
      const group = groups.get(parsed.handler) ?? [];
      group.push(parsed.task);
      groups.set(parsed.handler, group);
    }
    for (const [handler, tasks] of groups) await this.runGroup(handler, tasks, keepTrying, outcome);
    return outcome;
  }

  private async validate(
    raw: string,
    outcome: BatchOutcome,
  ): Promise<{ task: ParsedTask; handler: TaskHandler } | null> {
    let envelope: TaskEnvelope;
    try {
      envelope = parseTaskEnvelope(raw);
    } catch (err) {
      await this.deadLetter(raw, null, 'invalid_envelope', (err as Error).message, outcome);
      return null;
    }
    const handler = this.o.handlers.get(envelope.type);
    if (!handler) {
      const message = `no handler for task type "${envelope.type}" (known: ${this.o.handlers.types.join(', ')})`;
      await this.deadLetter(raw, envelope, 'unknown_type', message, outcome);
      return null;
    }
    const events = parseEvents(envelope.payload, 'payload');
    if (events.issues.length) {
      await this.deadLetter(raw, envelope, 'invalid_payload', summarizeIssues(events.issues), outcome);
      return null;
    }
    return { task: { raw, envelope, readings: events.readings }, handler };
  }

  private async runGroup(
    handler: TaskHandler,
    tasks: ParsedTask[],
    keepTrying: () => boolean,
    outcome: BatchOutcome,
  ): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await handler.handle(tasks);
        await this.o.consumer.ack(tasks.map((t) => t.raw));
        for (const t of tasks) this.o.metrics.tasksProcessed.inc({ type: t.envelope.type, outcome: 'acked' });
        outcome.acked += tasks.length;
        return;
      } catch (err) {
        if (err instanceof ValidationError || !this.o.isRetryable(err)) {
          await this.isolatePoison(handler, tasks, err, keepTrying, outcome);
          return;
        }
        if (!keepTrying()) {
          this.o.log.warn({ err, tasks: tasks.length }, 'transient failure at shutdown; leaving tasks unsettled');
          outcome.unsettled += tasks.length;
          return;
        }
        const delay = fullJitterBackoff(attempt, this.o.retryBaseMs, this.o.retryMaxMs);
        this.o.metrics.retries.inc();
        this.o.log.warn(
          {
            err: { message: (err as Error).message, code: (err as { code?: string }).code },
            attempt,
            delayMs: delay,
            tasks: tasks.length,
          },
          'transient failure; retrying',
        );
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** A permanent failure of a group: retry task by task so that only the poison task goes to the DLQ. */
  private async isolatePoison(
    handler: TaskHandler,
    tasks: ParsedTask[],
    err: unknown,
    keepTrying: () => boolean,
    outcome: BatchOutcome,
  ): Promise<void> {
    if (tasks.length === 1) {
      await this.deadLetter(tasks[0]!.raw, tasks[0]!.envelope, 'poison', (err as Error).message, outcome);
      return;
    }
    for (const task of tasks) await this.runGroup(handler, [task], keepTrying, outcome);
  }

  private async deadLetter(
    raw: string,
    envelope: TaskEnvelope | null,
    reason: DeadLetterReason,
    message: string,
    outcome: BatchOutcome,
  ): Promise<void> {
    const now = new Date().toISOString();
    await this.o.consumer.deadLetter(raw, {
      reason,
      message,
      task_id: envelope?.id ?? null,
      task_type: envelope?.type ?? null,
      attempts: (envelope?.attempts ?? 0) + 1,
      first_failed_at: now,
      last_failed_at: now,
    });
    this.o.metrics.dlqTasks.inc({ reason });
    // Only registered types become label values: a producer's typo must not grow the metric's cardinality.
    const type = envelope && this.o.handlers.get(envelope.type) ? envelope.type : 'unknown';
    this.o.metrics.tasksProcessed.inc({ type, outcome: 'dead_lettered' });
    this.o.log.warn({ taskId: envelope?.id, type: envelope?.type, reason, message }, 'task dead-lettered');
    outcome.deadLettered++;
  }
}
