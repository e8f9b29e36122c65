import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMigrations } from './migrations.js';

const dirWith = (files: Record<string, string>) => {
  const dir = mkdtempSync(join(tmpdir(), 'th-migrations-'));
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  return dir;
};

test('the schema’s own files load in version order, 1 to N without gaps, each with SQL', () => {
  const all = loadMigrations();
  assert.ok(all.length >= 10);
  assert.deepEqual(
    all.map((m) => m.version),
    all.map((_, i) => i + 1),
  );
  assert.equal(all[0]!.name, 'readings');
  for (const m of all) assert.match(m.sql, /\b(CREATE|ALTER)\b/, `${m.version} ${m.name} holds SQL`);
});

test('a misnamed file, a gap and a repeated version are refused; other files are ignored', () => {
  assert.deepEqual(
    loadMigrations(dirWith({ '0001-a.sql': 'SELECT 1', '0002-b.sql': 'SELECT 2', 'README.md': '' })).map(
      (m) => `${m.version}-${m.name}`,
    ),
    ['1-a', '2-b'],
  );
  assert.throws(() => loadMigrations(dirWith({ '1-a.sql': '' })), /name it NNNN-name\.sql/);
  assert.throws(() => loadMigrations(dirWith({ '0001-a.sql': '', '0003-c.sql': '' })), /without gaps or repeats/);
  assert.throws(() => loadMigrations(dirWith({ '0001-a.sql': '', '0001-b.sql': '' })), /without gaps or repeats/);
});
