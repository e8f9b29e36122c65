import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';
import { TaskTypes, normalizeEventId, type Reading } from '@telemetryhub/schemas';
import { createPgPool } from './store/pool.js';
import type { ParsedTask } from './domain/task.js';

/** A reading in the internal form for unit tests: the fields a test cares about, the rest empty. */
export function testReading(
  r: Pick<Reading, 'device_id' | 'metric' | 'event_time' | 'value'> & Partial<Reading>,
): Reading {
  return {
    event_id: normalizeEventId(`${r.device_id}|${r.metric}|${r.event_time}`),
    unit: null,
    site: null,
    region: null,
    firmware: null,
    schema_version: 3,
    sequence_id: null,
    ...r,
  };
}

/** A task as the handler gets it, with a fresh id, carrying `readings`. */
export function testTask(readings: Reading[], type: string = TaskTypes.ANALYZE): ParsedTask {
  return {
    raw: '{}',
    header: { id: randomUUID(), type, priority: 50, attempts: 0, created_at: new Date().toISOString() },
    readings,
  };
}

/** A new, empty database on the test server at `serverUrl`, and a pool on it (for tests that drop partitions). */
export async function freshDatabase(serverUrl: string, name: string, log: Logger): Promise<pg.Pool> {
  const admin = createPgPool(serverUrl, { max: 1, statementTimeoutMs: 10_000 }, log);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return createPgPool(url.toString(), { max: 4, statementTimeoutMs: 10_000 }, log);
}
