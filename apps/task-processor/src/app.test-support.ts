import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import type pg from 'pg';
import type { Logger } from 'pino';
import { TaskTypes, normalizeEventId, type Reading } from '@telemetryhub/schemas';
import { pino } from 'pino';
import { PostgresServer } from '@telemetryhub/testkit';
import { createPgPool } from './store/pool.js';
import { migrate } from '@telemetryhub/migrations';
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

/**
 * A throwaway PostgreSQL with the processor's schema for the calling test file: started and migrated before its
 * tests, stopped after them. `pool` and `url` are there once the file's `before` hooks have run.
 */
export function useMigratedDatabase(opts: { poolMax?: number } = {}): { pool: pg.Pool; url: string } {
  const log = pino({ level: 'silent' });
  const db = {} as { pool: pg.Pool; url: string };
  let server: PostgresServer | undefined;
  before(async () => {
    server = await PostgresServer.start();
    db.url = server.url;
    db.pool = createPgPool(server.url, { max: opts.poolMax ?? 4, statementTimeoutMs: 10_000 }, log);
    await migrate(db.pool, log);
  });
  after(async () => {
    await db.pool?.end();
    await server?.stop();
  });
  return db;
}

/**
 * Rollup rows of the prefix's devices in `source` (a rollup table or view: minutes or hours by its name) that differ
 * from a recomputation from the raw readings that count in the rollups: count, min and max exactly, the sum and the
 * sample standard deviation to rounding. None = exact.
 */
export async function rollupMismatches(db: pg.Pool, prefix: string, source: string): Promise<unknown[]> {
  const unit = source.startsWith('rollups_1m') ? 'minute' : 'hour';
  const { rows } = await db.query(
    `WITH truth AS (
       SELECT device_id, metric, date_trunc('${unit}', event_time, 'UTC') AS bucket, count(*) AS count,
              sum(value) AS sum, min(value) AS min, max(value) AS max, stddev_samp(value) AS sd
         FROM readings WHERE device_id LIKE $1 AND in_rollups GROUP BY 1, 2, 3)
     SELECT * FROM truth t
       FULL JOIN (SELECT *, CASE WHEN count > 1 THEN sqrt(m2 / (count - 1)) END AS sd
                    FROM ${source} WHERE device_id LIKE $1) r USING (device_id, metric, bucket)
      WHERE t.count IS DISTINCT FROM r.count OR abs(t.sum - r.sum) > 1e-9
         OR t.min IS DISTINCT FROM r.min OR t.max IS DISTINCT FROM r.max
         OR abs(coalesce(t.sd, 0) - coalesce(r.sd, 0)) > 1e-9`,
    [`${prefix}-%`],
  );
  return rows;
}
