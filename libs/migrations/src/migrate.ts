import type pg from 'pg';
import { loadMigrations, type Migration } from './migrations.js';

/** Advisory lock key of the migration runner ("th-migr" as a number), so replicas never migrate at once. */
const MIGRATION_LOCK_KEY = 0x74682d6d696772n;

/** Where the runner reports each applied migration (a pino logger fits). */
export interface MigrationLog {
  info(fields: object, message: string): void;
}

export interface MigrateOptions {
  /** Default: the schema's own files (loadMigrations()). */
  migrations?: readonly Migration[];
  /** Report what is pending without applying it (or creating anything). */
  dryRun?: boolean;
}

export interface MigrateResult {
  /** Versions applied by this call (none in a dry run). */
  applied: number[];
  /** Migrations not applied before this call, in order (a dry run's answer). */
  pending: Migration[];
  /** The newest version the database had before this call (0 for an empty one). */
  from: number;
}

/**
 * Applies pending migrations. One runner at a time across every replica and the CLI (a session advisory lock);
 * each migration in its own transaction together with its row in `schema_migrations`, so a crash leaves no
 * half-applied version. A dry run takes no lock and writes nothing.
 */
export async function migrate(pool: pg.Pool, log: MigrationLog, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const migrations = [...(opts.migrations ?? loadMigrations())].sort((a, b) => a.version - b.version);
  const client = await pool.connect();
  try {
    if (opts.dryRun) {
      const done = await appliedVersions(client);
      const pending = migrations.filter((m) => !done.has(m.version));
      return { applied: [], pending, from: Math.max(0, ...done) };
    }
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version    integer     PRIMARY KEY,
        name       text        NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const done = await appliedVersions(client);
      const pending = migrations.filter((m) => !done.has(m.version));
      const applied: number[] = [];
      for (const m of pending) {
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
      return { applied, pending, from: Math.max(0, ...done) };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]).catch(() => {});
    }
  } finally {
    client.release();
  }
}

/** Versions recorded in `schema_migrations` (none when the table does not exist yet). */
async function appliedVersions(client: pg.PoolClient): Promise<Set<number>> {
  const { rows: exists } = await client.query<{ t: string | null }>(
    "SELECT to_regclass('schema_migrations')::text AS t",
  );
  if (!exists[0]?.t) return new Set();
  const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
  return new Set(rows.map((r) => r.version));
}
