import type pg from 'pg';
import type { Logger } from 'pino';
import { insertReadings } from '../store/raw.repo.js';
import type { ProcessorMetrics } from '../metrics.js';
import type { ParsedTask, TaskHandler } from './task-handler.js';

/**
 * Stores readings, idempotent on event_id. Every telemetry task type starts here (rollups and alerts must be
 * derived from what was really stored, once); the analysis steps of each type build on the set of event_ids
 * this insert really added.
 */
export function createTelemetryHandler(deps: { pool: pg.Pool; metrics: ProcessorMetrics; log: Logger }): TaskHandler {
  return {
    name: 'telemetry',
    async handle(tasks: readonly ParsedTask[]): Promise<void> {
      const items = tasks.flatMap((t) => t.readings.map((reading) => ({ reading, taskId: t.envelope.id })));
      const added = await insertReadings(deps.pool, items);
      deps.metrics.dbRowsWritten.inc({ table: 'readings' }, added.size);
      deps.metrics.duplicateReadings.inc(items.length - added.size);
      const now = Date.now();
      for (const { reading } of items) {
        if (added.has(reading.event_id)) {
          deps.metrics.eventVisibleLatency.observe(Math.max(0, (now - Date.parse(reading.event_time)) / 1000));
        }
      }
    },
  };
}
