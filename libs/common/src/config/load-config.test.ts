import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { CommonConfigShape, ConfigError, loadConfig, port, redactUrl } from './load-config.js';

const Schema = z.object({ ...CommonConfigShape, HUB_PORT: port(8080) });

test('applies the documented defaults when nothing is set', () => {
  const c = loadConfig(Schema, { env: {} });
  assert.equal(c.QUEUE_NAME, 'tasks');
  assert.equal(c.HUB_PORT, 8080);
  assert.equal(c.LOG_LEVEL, 'info');
  assert.ok(Object.isFrozen(c));
});

test('names every bad variable at once', () => {
  assert.throws(
    () => loadConfig(Schema, { env: { HUB_PORT: 'eighty', REDIS_URL: 'http://x', LOG_LEVEL: 'loud' } }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const names = err.problems.map((p) => p.split(':')[0]).sort();
      assert.deepEqual(names, ['HUB_PORT', 'LOG_LEVEL', 'REDIS_URL']);
      assert.match(err.message, /HUB_PORT: .* \(got "eighty"\)/);
      return true;
    },
  );
});

test('reads CONFIG_FILE first and lets the environment override it', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'th-cfg-')), 'config.json');
  writeFileSync(file, JSON.stringify({ HUB_PORT: 9000, QUEUE_NAME: 'from-file' }));
  const c = loadConfig(Schema, { env: { CONFIG_FILE: file, QUEUE_NAME: 'from-env' } });
  assert.equal(c.HUB_PORT, 9000);
  assert.equal(c.QUEUE_NAME, 'from-env');
});

test('redacts the password of a URL', () => {
  assert.equal(redactUrl('rediss://user:hunter2@host:6380/0'), 'rediss://user:***@host:6380/0');
});

test('REDIS_URL is judged by the same parser createRedis uses, Sentinel addresses included', () => {
  const ok = loadConfig(Schema, { env: { REDIS_URL: 'redis-sentinel://s1:26379,s2:26379/mymaster' } });
  assert.equal(ok.REDIS_URL, 'redis-sentinel://s1:26379,s2:26379/mymaster');
  assert.throws(
    () => loadConfig(Schema, { env: { REDIS_URL: 'redis-sentinel://s1:x:y/mymaster' } }),
    (err: unknown) => err instanceof ConfigError && /^REDIS_URL: .*bad sentinel address/.test(err.problems[0]!),
  );
});

test('on a Redis Cluster the queue name must carry a hash tag', () => {
  const cluster = 'redis-cluster://n1:7000,n2:7001';
  assert.throws(
    () => loadConfig(Schema, { env: { REDIS_URL: cluster } }),
    (err: unknown) =>
      err instanceof ConfigError && /^QUEUE_NAME: .*hash tag, e\.g\. "\{tasks\}"/.test(err.problems[0]!),
  );
  assert.equal(loadConfig(Schema, { env: { REDIS_URL: cluster, QUEUE_NAME: '{tasks}' } }).QUEUE_NAME, '{tasks}');
  assert.equal(loadConfig(Schema, { env: { QUEUE_NAME: 'tasks' } }).QUEUE_NAME, 'tasks', 'one server: any name');
});

test('a sharded queue needs no hash tag of its own, and only the redis-list driver shards', () => {
  const cluster = 'redis-cluster://n1:7000,n2:7001';
  assert.equal(loadConfig(Schema, { env: { REDIS_URL: cluster, QUEUE_SHARDS: '8' } }).QUEUE_SHARDS, 8);
  assert.equal(loadConfig(Schema, { env: {} }).QUEUE_SHARDS, 1);
  assert.throws(
    () => loadConfig(Schema, { env: { QUEUE_SHARDS: '4', QUEUE_DRIVER: 'bullmq' } }),
    (err: unknown) =>
      err instanceof ConfigError && /^QUEUE_SHARDS: sharding needs QUEUE_DRIVER=redis-list/.test(err.problems[0]!),
  );
  assert.throws(() => loadConfig(Schema, { env: { QUEUE_SHARDS: '0' } }), ConfigError);
});
