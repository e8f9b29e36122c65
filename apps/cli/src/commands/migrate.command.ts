import pg from 'pg';
import { redactUrl } from '@telemetryhub/service-kit';
import { migrate } from '@telemetryhub/migrations';

export const MIGRATE_HELP = `  migrate [--dry-run]                apply the pending PostgreSQL schema migrations (as the processor does at
                                     start-up); --dry-run lists them and changes nothing
                                     (--database-url URL, default: $DATABASE_URL)`;

/** The processor's own default, so the CLI and a processor started without DATABASE_URL mean the same database. */
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/telemetry';

const pad = (version: number) => String(version).padStart(4, '0');

/**
 * `telemetryhub migrate`: the same runner, lock and SQL files as the processor's start-up, for deployments that
 * migrate as a separate step (MIGRATE_ON_START=false) and for reviewing what an upgrade will change.
 */
export async function migrateCommand(
  url: string,
  opts: { dryRun: boolean; json: boolean },
  out: (line: string) => void,
): Promise<number> {
  const pool = new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 5000 });
  pool.on('error', () => {}); // an idle client cut off after we are done is not our concern
  try {
    await pool.query('SELECT 1').catch((err: Error) => {
      throw new Error(`cannot reach PostgreSQL at ${redactUrl(url)} (${err.message})`);
    });
    const result = await migrate(
      pool,
      { info: (fields) => !opts.json && out(`applied ${describe(fields as { migration: number; name: string })}`) },
      { dryRun: opts.dryRun },
    );
    const to = result.pending.at(-1)?.version ?? result.from;
    if (opts.json) {
      out(
        JSON.stringify({
          dry_run: opts.dryRun,
          from: result.from,
          to: opts.dryRun ? result.from : to,
          pending: result.pending.map((m) => ({ version: m.version, name: m.name })),
          applied: result.applied,
        }),
      );
    } else if (result.pending.length === 0) {
      out(`up to date: the schema is at version ${result.from}`);
    } else if (opts.dryRun) {
      out(`the schema is at version ${result.from}; ${result.pending.length} pending (nothing applied, --dry-run):`);
      for (const m of result.pending) out(`  ${describe({ migration: m.version, name: m.name })}`);
    } else {
      out(`the schema is now at version ${to} (was ${result.from})`);
    }
    return 0;
  } finally {
    await pool.end();
  }
}

function describe(m: { migration: number; name: string }): string {
  return `${pad(m.migration)} ${m.name}`;
}
