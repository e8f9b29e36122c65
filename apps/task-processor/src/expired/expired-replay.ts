import type pg from 'pg';
import type { Logger } from 'pino';
import { AppError, ErrorCodes } from '@telemetryhub/service-kit';
import { TaskTypes } from '@telemetryhub/schemas';
import type { ParsedTask, TaskHandler } from '../domain/task.js';
import type { ProcessorMetrics } from '../metrics/processor-metrics.js';
import { deleteStoredExpiredReadings, expiredReadingsAfter } from './expired.repo.js';

/**
 * Advisory lock key of a replay of expired readings: one replay at a time over all replicas. "th-late" as a number,
 * the key earlier releases take too, so a fleet being upgraded still replays one at a time.
 */
export const EXPIRED_REPLAY_LOCK_KEY = 0x74682d6c617465n;

/** The task type a replayed reading is run as: stored and folded into rollups, but no alerts for old news. */
export const EXPIRED_REPLAY_TASK_TYPE = TaskTypes.AGGREGATE;

export interface ExpiredReplayResult {
  /** Expired readings looked at. */
  examined: number;
  /** Now in the raw table and rollups, and gone from `expired_readings`. */
  replayed: number;
  /** Still older than the expiry horizon: left where they were. */
  stillExpired: number;
}

/**
 * Runs expired readings through the telemetry handler again, in pages, and removes from `expired_readings` the
 * ones it stored. Useful once the horizon moved (a longer `EXPIRY_HORIZON_DAYS` or
 * `RAW_RETENTION_DAYS`): what now fits is stored and counted once (the handler folds only rows its insert really
 * added, so a replay interrupted between a page's commit and its delete, or run twice, doubles nothing); what is
 * still too old stays, unchanged. Runs inside the processor rather than through the queue: the readings are kept
 * as stored (already pseudonymised), and decoding them again would key them a second time.
 */
export class ExpiredReplayer {
  constructor(
    private readonly deps: {
      pool: pg.Pool;
      /** A telemetry handler with the live horizon and partitions (and no latency observation). */
      handler: TaskHandler;
      metrics: ProcessorMetrics;
      log: Logger;
      pageSize?: number;
    },
  ) {}

  /** Replays up to `limit` expired readings (of one device, if given). Throws CONFLICT while another replay runs. */
  async replay(opts: { limit: number; deviceId?: string }): Promise<ExpiredReplayResult> {
    const lock = await this.deps.pool.connect();
    try {
      const { rows } = await lock.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
        EXPIRED_REPLAY_LOCK_KEY.toString(),
      ]);
      if (!rows[0]?.locked) throw new AppError(ErrorCodes.CONFLICT, 'a replay of expired readings is already running');
      try {
        return await this.replayPages(opts);
      } finally {
        await lock.query('SELECT pg_advisory_unlock($1)', [EXPIRED_REPLAY_LOCK_KEY.toString()]);
      }
    } finally {
      lock.release();
    }
  }

  private async replayPages(opts: { limit: number; deviceId?: string }): Promise<ExpiredReplayResult> {
    const pageSize = this.deps.pageSize ?? 1000;
    const result: ExpiredReplayResult = { examined: 0, replayed: 0, stillExpired: 0 };
    let after: string | null = null;
    while (result.examined < opts.limit) {
      const page = await expiredReadingsAfter(this.deps.pool, {
        afterEventId: after,
        limit: Math.min(pageSize, opts.limit - result.examined),
        ...(opts.deviceId === undefined ? {} : { deviceId: opts.deviceId }),
      });
      if (page.length === 0) break;
      after = page[page.length - 1]!.event_id;
      await this.deps.handler.handle(replayTasks(page));
      const replayed = await deleteStoredExpiredReadings(
        this.deps.pool,
        page.map((p) => p.event_id),
      );
      result.examined += page.length;
      result.replayed += replayed;
      result.stillExpired += page.length - replayed;
      this.deps.metrics.expiredReplayed.inc(replayed);
      this.deps.log.info({ ...result }, 'expired replay: page done');
    }
    return result;
  }
}

type ExpiredPage = Awaited<ReturnType<typeof expiredReadingsAfter>>;

/** The page as tasks, one per original task id (so stored rows keep the task they came in). */
function replayTasks(page: ExpiredPage): ParsedTask[] {
  const byTask = new Map<string, ParsedTask['readings']>();
  for (const p of page) {
    const id = p.task_id ?? 'expired-replay';
    const readings = byTask.get(id) ?? [];
    readings.push(p.reading);
    byTask.set(id, readings);
  }
  const createdAt = new Date().toISOString();
  return [...byTask].map(([id, readings]) => ({
    raw: '',
    header: { id, type: EXPIRED_REPLAY_TASK_TYPE, priority: 0, created_at: createdAt, attempts: 0 },
    readings,
  }));
}
