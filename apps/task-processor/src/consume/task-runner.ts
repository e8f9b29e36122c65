import type { Logger } from 'pino';
import { ValidationError, briefError, fullJitterBackoff, sleep } from '@telemetryhub/service-kit';
import { type DeadLetterReason, type FetchedTask, type QueueConsumer, type RawTask } from '@telemetryhub/queue';
import type { HandlerRegistry, ParsedTask, TaskHandler } from '../handlers/index.js';
import { batchStatistics } from '../stats/batch-statistics.js';
import type { ProcessorMetrics } from '../metrics/processor-metrics.js';
import type { DbFailureKind } from '../store/pg-errors.js';
import { createDecodePool, type TaskDecodePool } from '../decode/decode-pool.js';
import type { DecodedTask } from '../decode/task-decoder.js';
import type { TaskHeader } from '../domain/task.js';
import { failedParts, type FailedEvent } from './task-parts.js';
import { BatchTrace } from './batch-trace.js';
import { logFields, partLogFields, type BatchOutcome, type Delivery, type Failure } from './delivery.js';

export interface TaskRunnerOptions {
  consumer: Pick<QueueConsumer, 'ack' | 'deadLetter' | 'deadLetterParts' | 'retryLater' | 'firstFailure'>;
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
  /** Tracing is on: each batch gets its spans (batch-trace.ts), under the queue's name. */
  trace?: { queue: string };
}

export type { BatchOutcome } from './delivery.js';

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
 * - data (a value PostgreSQL refuses) or permanent: the group is retried task by task to find the poison task;
 *   within that task a data error is narrowed down by bisecting its readings, so every good reading is stored and
 *   only the events at fault are dead-lettered, each alone (a bad reading costs only itself); any other permanent
 *   error dead-letters the task whole.
 * Events refused at decoding are dead-lettered alone in the same way once the task's good readings are stored.
 */
export class TaskRunner {
  private readonly decoder: TaskDecodePool;

  constructor(private readonly o: TaskRunnerOptions) {
    this.decoder = o.decoder ?? createDecodePool({ threads: 0 });
  }

  /** `keepTrying` says whether to go on retrying while a dependency is down (false once shutdown has begun). */
  async run(
    fetched: readonly FetchedTask[],
    keepTrying: () => boolean,
    fetchTimes?: { startedAt: number; doneAt: number },
  ): Promise<BatchOutcome> {
    const outcome: BatchOutcome = { acked: 0, retried: 0, deadLettered: 0, unsettled: 0 };
    const groups = new Map<TaskHandler, Delivery[]>();
    const decodeStartedAt = Date.now();
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
    const batch =
      this.o.trace &&
      new BatchTrace(
        this.o.trace.queue,
        [...groups.values()].flat().map((d) => d.header),
        {
          fetchStartedAt: fetchTimes?.startedAt ?? decodeStartedAt,
          fetchedAt: fetchTimes?.doneAt ?? decodeStartedAt,
          decodeStartedAt,
          decodedAt: now,
        },
      );
    try {
      for (const [handler, deliveries] of groups) {
        const run = () => this.runGroup(handler, deliveries, keepTrying, outcome);
        await (batch ? batch.handle(handler.name, deliveries.length, run) : run());
      }
    } finally {
      batch?.end(outcome);
    }
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
    const { readings, statistics, events, rejected, sources } = decoded;
    return {
      delivery: {
        raw,
        header,
        readings,
        attempt,
        maxAttempts,
        events,
        ...(statistics ? { statistics } : {}),
        ...(rejected ? { rejected } : {}),
        ...(sources ? { sources } : {}),
      },
      handler,
    };
  }

  private async runGroup(
    handler: TaskHandler,
    group: Delivery[],
    keepTrying: () => boolean,
    outcome: BatchOutcome,
  ): Promise<void> {
    const failure = await this.attempt(handler, group, keepTrying);
    if (!failure) {
      await this.settleDone(group, outcome);
      return;
    }
    if (failure.kind === 'unsettled') {
      outcome.unsettled += group.length;
      return;
    }
    if (failure.kind === 'transient') {
      for (const t of group) await this.retryOrGiveUp(t, failure.error, outcome);
      return;
    }
    // Data or permanent: find the task at fault, one by one; within it, the readings at fault.
    if (group.length > 1) {
      for (const t of group) await this.runGroup(handler, [t], keepTrying, outcome);
      return;
    }
    await this.narrowDown(handler, group[0]!, failure, keepTrying, outcome);
  }

  /**
   * Runs the handler once, holding the work and retrying in place while a dependency is unavailable (no attempt
   * counted). Resolves null on success, else how it failed; `unsettled` when shutdown began during an outage.
   */
  private async attempt(
    handler: TaskHandler,
    group: readonly ParsedTask[],
    keepTrying: () => boolean,
  ): Promise<Failure | null> {
    for (let waited = 0; ; waited++) {
      let kind: DbFailureKind;
      try {
        await handler.handle(group);
        return null;
      } catch (err) {
        kind = err instanceof ValidationError ? 'permanent' : this.o.classify(err);
        if (kind !== 'unavailable') return { kind, error: err };
        if (!keepTrying()) {
          this.o.log.warn(
            { err: briefError(err), tasks: group.length },
            'dependency unavailable at shutdown; tasks stay unsettled',
          );
          return { kind: 'unsettled', error: err };
        }
        const base = this.o.unavailableRetryMs ?? 500;
        const delay = Math.min(this.o.retryMaxMs, base * 2 ** Math.min(waited, 10));
        this.o.metrics.dependencyWaits.inc();
        if (waited === 0 || waited % 10 === 0) {
          this.o.log.warn(
            { err: briefError(err), tasks: group.length, delayMs: delay },
            'dependency unavailable; holding tasks and retrying',
          );
        }
        await sleep(delay);
      }
    }
  }

  /**
   * Settles tasks whose readings are stored: acked together, except a task with events refused at decoding, whose
   * refused events take its place in the DLQ (each alone). Outside the classified block: a Redis error here is not
   * a database failure and must not make the handler run again. It propagates; the consumer loop gives the
   * unsettled tasks back to the queue.
   */
  private async settleDone(group: readonly Delivery[], outcome: BatchOutcome): Promise<void> {
    const clean = group.filter((t) => !t.rejected?.length);
    if (clean.length) {
      await this.o.consumer.ack(clean.map((t) => t.raw));
      for (const t of clean) this.o.metrics.tasksProcessed.inc({ type: t.header.type, outcome: 'acked' });
      outcome.acked += clean.length;
    }
    for (const t of group) if (t.rejected?.length) await this.settleWithFailures(t, [], outcome);
  }

  /**
   * One task failed with a data or permanent error. A data error is narrowed down: the readings are bisected until
   * each failing run is one reading, so k bad readings among n cost about 2k·log2(n) handler runs, and every good
   * reading is stored (idempotent: a half stored before a crash or a retry is skipped next time). Anything else,
   * or a failure that turns out not to be a reading's own, dead-letters the task whole, as does a task all of
   * whose events failed.
   */
  private async narrowDown(
    handler: TaskHandler,
    t: Delivery,
    failure: Failure,
    keepTrying: () => boolean,
    outcome: BatchOutcome,
  ): Promise<void> {
    if (failure.kind !== 'data' || t.readings.length === 1) {
      if (failure.kind === 'data') {
        await this.settleWithFailures(t, [this.failedReading(t, 0, failure.error)], outcome);
        return;
      }
      await this.deadLetter(t.raw, t.header, t.attempt, 'poison', (failure.error as Error).message, outcome);
      return;
    }
    const failed: FailedEvent[] = [];
    const good = new Set<number>();
    const part = (indexes: readonly number[]): ParsedTask => {
      const { statistics: _statistics, ...rest } = t; // statistics are the whole task's: stored once, below
      return { ...rest, readings: indexes.map((i) => t.readings[i]!) };
    };
    const walk = async (indexes: readonly number[], error: unknown): Promise<Failure | null> => {
      if (indexes.length === 1) {
        failed.push(this.failedReading(t, indexes[0]!, error));
        return null;
      }
      const mid = indexes.length >> 1;
      for (const half of [indexes.slice(0, mid), indexes.slice(mid)]) {
        const f = await this.attempt(handler, [part(half)], keepTrying);
        if (!f) {
          for (const i of half) good.add(i);
          continue;
        }
        if (f.kind !== 'data') return f;
        const stop = await walk(half, f.error);
        if (stop) return stop;
      }
      return null;
    };
    const stop = await walk(
      t.readings.map((_, i) => i),
      failure.error,
    );
    if (stop?.kind === 'unsettled') outcome.unsettled++;
    else if (stop?.kind === 'transient') await this.retryOrGiveUp(t, stop.error, outcome);
    else if (stop) await this.deadLetter(t.raw, t.header, t.attempt, 'poison', (stop.error as Error).message, outcome);
    if (stop) return;
    this.o.log.warn(
      { taskId: t.header.id, readings: t.readings.length, failed: failed.length },
      'a batch failed on some of its readings; the rest are stored, the failed ones go to the DLQ alone',
    );
    if (t.statistics?.length && good.size) await this.storeStatistics(handler, t, [...good], keepTrying);
    await this.settleWithFailures(t, failed, outcome);
  }

  /** The per-batch statistics of a narrowed-down task, of the readings that were stored; best effort. */
  private async storeStatistics(
    handler: TaskHandler,
    t: Delivery,
    good: readonly number[],
    keepTrying: () => boolean,
  ): Promise<void> {
    const statistics = batchStatistics(good.map((i) => t.readings[i]!));
    const f = await this.attempt(handler, [{ raw: t.raw, header: t.header, readings: [], statistics }], keepTrying);
    if (f) this.o.log.warn({ taskId: t.header.id, err: briefError(f.error) }, 'could not store the task’s statistics');
  }

  /** A reading that failed on its own, as the event it came from. */
  private failedReading(t: Delivery, reading: number, error: unknown): FailedEvent {
    const message = `PostgreSQL refused it: ${(error as Error).message}`;
    return { index: t.sources?.[reading] ?? reading, reason: 'poison', message };
  }

  /**
   * Settles a task whose good readings are stored: its failed events (refused at decoding, and `failed`) take its
   * place in the DLQ, each a task of its own, in one step with the task's removal. If every event failed, the
   * task itself is dead-lettered, as it was sent.
   */
  private async settleWithFailures(t: Delivery, failed: readonly FailedEvent[], outcome: BatchOutcome): Promise<void> {
    const all: FailedEvent[] = [
      ...(t.rejected ?? []).map((r) => ({ index: r.index, reason: 'invalid_payload' as const, message: r.message })),
      ...failed,
    ];
    if (all.length === 0) {
      await this.settleDone([t], outcome);
      return;
    }
    if (new Set(all.map((f) => f.index)).size >= t.events) {
      const reason = all.some((f) => f.reason === 'poison') ? 'poison' : 'invalid_payload';
      await this.deadLetter(t.raw, t.header, t.attempt, reason, all.map((f) => f.message).join('; '), outcome);
      return;
    }
    const now = new Date();
    const first = t.attempt > 1 ? await this.o.consumer.firstFailure(t.raw) : null;
    const parts = failedParts(t.raw, t.header, all, {
      attempts: t.attempt,
      firstFailedAt: (first ?? now).toISOString(),
      lastFailedAt: now.toISOString(),
    });
    await this.o.consumer.deadLetterParts(
      t.raw,
      parts.map((p) => p.record),
    );
    this.o.metrics.tasksProcessed.inc({ type: t.header.type, outcome: 'acked' });
    outcome.acked++;
    for (const { record, deviceId } of parts) {
      this.o.metrics.dlqTasks.inc({ reason: record.reason });
      this.o.log.warn(
        partLogFields(t.header, record, deviceId === undefined ? undefined : this.decoder.loggedDeviceId(deviceId)),
        'event dead-lettered alone',
      );
    }
    outcome.deadLettered += parts.length;
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
      { ...logFields(t.header), attempt: t.attempt, delayMs: delay, err: briefError(err) },
      'transient failure; retry scheduled',
    );
    outcome.retried++;
  }

  private async deadLetter(
    raw: RawTask,
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
    this.o.log.warn({ ...logFields(header), type: header?.type, reason, message }, 'task dead-lettered');
    outcome.deadLettered++;
  }
}
