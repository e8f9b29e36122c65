import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, ServiceConfigShape, loadConfig, port, postgresUrl, redactUrl } from './load-config.js';

const Schema = z.object({ ...ServiceConfigShape, HUB_PORT: port(8080), DATABASE_URL: postgresUrl() });

test('applies the documented defaults when nothing is set', () => {
  const c = loadConfig(Schema, { env: {} });
  assert.equal(c.SHUTDOWN_TIMEOUT_SECONDS, 25);
  assert.equal(c.HUB_PORT, 8080);
  assert.equal(c.LOG_LEVEL, 'info');
  assert.ok(Object.isFrozen(c));
});

test('names every bad variable at once', () => {
  assert.throws(
    () => loadConfig(Schema, { env: { HUB_PORT: 'eighty', DATABASE_URL: 'http://x', LOG_LEVEL: 'loud' } }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const names = err.problems.map((p) => p.split(':')[0]).sort();
      assert.deepEqual(names, ['DATABASE_URL', 'HUB_PORT', 'LOG_LEVEL']);
      assert.match(err.message, /HUB_PORT: .* \(got "eighty"\)/);
      return true;
    },
  );
});

test('reads CONFIG_FILE first and lets the environment override it', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'th-cfg-')), 'config.json');
  writeFileSync(file, JSON.stringify({ HUB_PORT: 9000, LOG_LEVEL: 'warn' }));
  const c = loadConfig(Schema, { env: { CONFIG_FILE: file, LOG_LEVEL: 'debug' } });
  assert.equal(c.HUB_PORT, 9000);
  assert.equal(c.LOG_LEVEL, 'debug');
});

test('rules across variables run once each variable is valid, and every problem is named', () => {
  const checks = [
    (c: Record<string, unknown>) => (c.HUB_PORT === 9999 ? 'HUB_PORT: not with 9999' : null),
    (c: Record<string, unknown>) => (c.LOG_LEVEL === 'trace' ? 'LOG_LEVEL: not with trace' : null),
  ];
  assert.equal(loadConfig(Schema, { env: { HUB_PORT: '9000' } }, checks).HUB_PORT, 9000);
  assert.throws(
    () => loadConfig(Schema, { env: { HUB_PORT: '9999', LOG_LEVEL: 'trace' } }, checks),
    (err: unknown) => err instanceof ConfigError && err.problems.length === 2,
  );
});

test('a renamed variable is refused with its new name, from the environment or CONFIG_FILE; unset, it is nothing', () => {
  const renamed = { OLD_PORT: { now: 'HUB_PORT', why: 'one name per port' } };
  assert.equal(loadConfig(Schema, { env: { OLD_PORT: '' } }, [], renamed).HUB_PORT, 8080);
  assert.throws(
    () => loadConfig(Schema, { env: { OLD_PORT: '9000' } }, [], renamed),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.problems.length === 1 &&
      err.problems[0] === 'OLD_PORT: renamed HUB_PORT (one name per port) (got 9000)',
  );
  const file = join(mkdtempSync(join(tmpdir(), 'th-cfg-')), 'config.json');
  writeFileSync(file, JSON.stringify({ OLD_PORT: 9000 }));
  assert.throws(() => loadConfig(Schema, { env: { CONFIG_FILE: file } }, [], renamed), /OLD_PORT: renamed HUB_PORT/);
});

test('redacts the password of a URL', () => {
  assert.equal(redactUrl('rediss://user:hunter2@host:6380/0'), 'rediss://user:***@host:6380/0');
});
