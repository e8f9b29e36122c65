import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PostgresServer } from '@telemetryhub/testkit';
import { loadMigrations } from '@telemetryhub/migrations';

const BIN = fileURLToPath(new URL('../bin/telemetryhub.mjs', import.meta.url));
let server: PostgresServer;

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

before(async () => {
  server = await PostgresServer.start();
});
after(() => server.stop());

async function tables(): Promise<string[]> {
  const db = new pg.Client({ connectionString: server.url });
  await db.connect();
  try {
    const { rows } = await db.query<{ t: string }>(
      "SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('schema_migrations', 'readings') ORDER BY 1",
    );
    return rows.map((r) => r.t);
  } finally {
    await db.end();
  }
}

test('migrate --dry-run lists what is pending and changes nothing; migrate applies it; again, it is up to date', async () => {
  const all = loadMigrations();
  const dry = await cli('migrate', '--dry-run', '--database-url', server.url);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, new RegExp(`at version 0; ${all.length} pending \\(nothing applied, --dry-run\\)`));
  assert.match(dry.stdout, /0001 readings/);
  assert.match(dry.stdout, /0010 expired-readings/);
  assert.deepEqual(await tables(), [], 'a dry run creates nothing, not even schema_migrations');

  const applied = await cli('migrate', '--database-url', server.url);
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(applied.stdout, /applied 0001 readings/);
  assert.match(applied.stdout, new RegExp(`now at version ${all.length} \\(was 0\\)`));
  assert.deepEqual(await tables(), ['readings', 'schema_migrations']);

  const again = await cli('migrate', '--database-url', server.url, '--json');
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(JSON.parse(again.stdout), {
    dry_run: false,
    from: all.length,
    to: all.length,
    pending: [],
    applied: [],
  });
});

test('migrate: an unreachable database is a clear error (exit 1), a stray argument a usage error (exit 2)', async () => {
  const down = await cli('migrate', '--database-url', 'postgres://nobody:secret@127.0.0.1:9/none');
  assert.equal(down.code, 1);
  assert.match(down.stderr, /cannot reach PostgreSQL at postgres:\/\/nobody:\*\*\*@127\.0\.0\.1:9\/none/);
  const stray = await cli('migrate', 'now', '--database-url', server.url);
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /migrate takes no argument/);
});
