import type pg from 'pg';
import type { Logger } from 'pino';
import { MIGRATIONS, type Migration } from './migrations/index.js';

/** Advisory lock key of the migration runner ("th-migr" as a number), so replicas never migrate at once. */
const MIGRATION_LOCK_KEY = 0x74682d6d696772n;

/**
 * Applies pending migrations at start-up. One replica at a time (session advisory lock); each migration in its
 * own transaction together with its row in schema_migrations, so a crash leaves no half-applied version.
 * Returns the versions applied now.
 */
export async function migrate(
  pool: pg.Pool,
  log: Logger,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer     PRIMARY KEY,
      name       text        NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${m.version} (${m.name}) failed: ${(err as Error).message}`, { cause: err });
      }
      log.info({ migration: m.version, name: m.name }, 'migration applied');
      applied.push(m.version);
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]).catch(() => {});
    client.release();
  }
}
