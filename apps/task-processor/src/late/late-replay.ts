import type pg from 'pg';
import type { Logger } from 'pino';
import { AppError, ErrorCodes } from '@telemetryhub/service-kit';
import { TaskTypes } from '@telemetryhub/schemas';
import type { ParsedTask, TaskHandler } from '../domain/task.js';
import type { ProcessorMetrics } from '../metrics/processor-metrics.js';
import { deleteStoredLateReadings, lateReadingsAfter } from './late.repo.js';

/** Advisory lock key of a late replay ("th-late" as a number): one replay at a time over all replicas. */
export const LATE_REPLAY_LOCK_KEY = 0x74682d6c617465n;

/** The task type a replayed reading is run as: stored and folded into rollups, but no alerts for old news. */
export const LATE_REPLAY_TASK_TYPE = TaskTypes.AGGREGATE;

export interface LateReplayResult {
  /** Late readings looked at. */
  examined: number;
  /** Now in the raw table and rollups, and gone from `late_readings`. */
  replayed: number;
  /** Still older than the late horizon: left where they were. */
  stillLate: number;
}

/**
 * Runs readings from the late side output through the telemetry handler again, in pages, and removes from
 * `late_readings` the ones it stored. Useful once the horizon moved (a longer `LATE_HORIZON_DAYS` or
 * `RAW_RETENTION_DAYS`): what now fits is stored and counted once (the handler folds only rows its insert really
 * added, so a replay interrupted between a page's commit and its delete, or run twice, doubles nothing); what is
 * still too old stays, unchanged. Runs inside the processor rather than through the queue: the readings are kept
 * as stored (already pseudonymised), and decoding them again would key them a second time.
 */
export class LateReplayer {
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

  /** Replays up to `limit` late readings (of one device, if given). Throws CONFLICT while another replay runs. */
  async replay(opts: { limit: number; deviceId?: string }): Promise<LateReplayResult> {
    const lock = await this.deps.pool.connect();
    try {
      const { rows } = await lock.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
        LATE_REPLAY_LOCK_KEY.toString(),
      ]);
      if (!rows[0]?.locked) throw new AppError(ErrorCodes.CONFLICT, 'a late replay is already running');
      try {
        return await this.replayPages(opts);
      } finally {
        await lock.query('SELECT pg_advisory_unlock($1)', [LATE_REPLAY_LOCK_KEY.toString()]);
      }
    } finally {
      lock.release();
    }
  }

  private async replayPages(opts: { limit: number; deviceId?: string }): Promise<LateReplayResult> {
    const pageSize = this.deps.pageSize ?? 1000;
    const result: LateReplayResult = { examined: 0, replayed: 0, stillLate: 0 };
    let after: string | null = null;
    while (result.examined < opts.limit) {
      const page = await lateReadingsAfter(this.deps.pool, {
        afterEventId: after,
        limit: Math.min(pageSize, opts.limit - result.examined),
        ...(opts.deviceId === undefined ? {} : { deviceId: opts.deviceId }),
      });
      if (page.length === 0) break;
      after = page[page.length - 1]!.event_id;
      await this.deps.handler.handle(replayTasks(page));
      const replayed = await deleteStoredLateReadings(
        this.deps.pool,
        page.map((p) => p.event_id),
      );
      result.examined += page.length;
      result.replayed += replayed;
      result.stillLate += page.length - replayed;
      this.deps.metrics.lateReplayed.inc(replayed);
      this.deps.log.info({ ...result }, 'late replay: page done');
    }
    return result;
  }
}

type LatePage = Awaited<ReturnType<typeof lateReadingsAfter>>;

/** The page as tasks, one per original task id (so stored rows keep the task they came in). */
function replayTasks(page: LatePage): ParsedTask[] {
  const byTask = new Map<string, ParsedTask['readings']>();
  for (const p of page) {
    const id = p.task_id ?? 'late-replay';
    const readings = byTask.get(id) ?? [];
    readings.push(p.reading);
    byTask.set(id, readings);
  }
  const createdAt = new Date().toISOString();
  return [...byTask].map(([id, readings]) => ({
    raw: '',
    header: { id, type: LATE_REPLAY_TASK_TYPE, priority: 0, created_at: createdAt, attempts: 0 },
    readings,
  }));
}
