import type pg from 'pg';
import type { MetricStatistics, ParsedTask } from '../domain/task.js';
import { isoUtc } from '../store/sql-time.js';

/** A task's statistics as stored: one row per metric. */
export interface TaskStatisticsRow extends MetricStatistics {
  task_id: string;
  created_at: string;
}

/**
 * Stores the per-metric statistics of tasks that carry them, in one statement; a retried task's rows are already
 * there and stay as they are (the same readings give the same statistics). Returns the rows added.
 */
export async function insertTaskStatistics(db: pg.Pool | pg.PoolClient, tasks: readonly ParsedTask[]): Promise<number> {
  const rows = tasks.flatMap((t) => (t.statistics ?? []).map((s) => ({ t, s })));
  if (rows.length === 0) return 0;
  const { rowCount } = await db.query(
    `INSERT INTO task_statistics
       (task_id, created_at, metric, readings, devices, min, max, mean, stddev, first_event_time, last_event_time)
     SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::int[], $5::int[], $6::float8[],
                          $7::float8[], $8::float8[], $9::float8[], $10::timestamptz[], $11::timestamptz[])
     ON CONFLICT DO NOTHING`,
    [
      rows.map((r) => r.t.header.id),
      rows.map((r) => r.t.header.created_at),
      rows.map((r) => r.s.metric),
      rows.map((r) => r.s.readings),
      rows.map((r) => r.s.devices),
      rows.map((r) => r.s.min),
      rows.map((r) => r.s.max),
      rows.map((r) => r.s.mean),
      rows.map((r) => r.s.stddev),
      rows.map((r) => r.s.first_event_time),
      rows.map((r) => r.s.last_event_time),
    ],
  );
  return rowCount ?? 0;
}

/** The statistics stored for a task, by metric (empty when there are none: unknown task, not analyzed, expired). */
export async function taskStatistics(db: pg.Pool, taskId: string): Promise<TaskStatisticsRow[]> {
  const { rows } = await db.query<TaskStatisticsRow>(
    `SELECT task_id, ${isoUtc('created_at')} AS created_at, metric, readings, devices, min, max, mean, stddev,
            ${isoUtc('first_event_time')} AS first_event_time, ${isoUtc('last_event_time')} AS last_event_time
       FROM task_statistics
      WHERE task_id = $1
      ORDER BY metric`,
    [taskId],
  );
  return rows;
}
