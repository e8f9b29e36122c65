import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** A versioned schema change, applied once, in version order, inside a transaction. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Where the schema's SQL files are: `sql/` beside `src/` and `dist/`, so the same path serves both. */
export const SQL_DIR = fileURLToPath(new URL('../sql/', import.meta.url));

/** `0007-task-statistics.sql`: a four-digit version, a dash, the name recorded in `schema_migrations`. */
const FILE = /^(\d{4})-([a-z0-9-]+)\.sql$/;

/**
 * Reads every migration in `dir`, in version order. The files are the schema's history: append a new one, never
 * edit one that has shipped (a database that applied it would not apply the edit). Throws on a file that does not
 * follow the naming, and on a gap or a repeat in the versions — either would make the order ambiguous.
 */
export function loadMigrations(dir: string = SQL_DIR): Migration[] {
  const migrations: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith('.sql')) continue;
    const m = FILE.exec(file);
    if (!m) throw new Error(`migration file ${file}: name it NNNN-name.sql (four digits, lower-case name)`);
    migrations.push({ version: Number(m[1]), name: m[2]!, sql: readFileSync(join(dir, file), 'utf8') });
  }
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new Error(`migration ${m.version} (${m.name}): versions must run 1, 2, 3… without gaps or repeats`);
    }
  });
  return migrations;
}
