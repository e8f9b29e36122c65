import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { ConfigError, loadConfig } from '@telemetryhub/service-kit';
import { QueueConfigShape, queueConfigProblem, redisUrlWithPasswords } from './queue-config.js';
import { parseRedisTarget } from './redis-target.js';

const Schema = z.object(QueueConfigShape);
const load = (env: Record<string, string>) => loadConfig(Schema, { env }, [queueConfigProblem]);

test('the queue defaults: one queue named tasks on a local Redis, our own protocol', () => {
  const c = load({});
  assert.deepEqual(
    { ...c },
    { REDIS_URL: 'redis://127.0.0.1:6379', QUEUE_NAME: 'tasks', QUEUE_DRIVER: 'redis-list', QUEUE_SHARDS: 1 },
  );
});

test('REDIS_URL is judged by the same parser createRedis uses, Sentinel addresses included', () => {
  const ok = load({ REDIS_URL: 'redis-sentinel://s1:26379,s2:26379/mymaster' });
  assert.equal(ok.REDIS_URL, 'redis-sentinel://s1:26379,s2:26379/mymaster');
  assert.throws(
    () => load({ REDIS_URL: 'redis-sentinel://s1:x:y/mymaster' }),
    (err: unknown) => err instanceof ConfigError && /^REDIS_URL: .*bad sentinel address/.test(err.problems[0]!),
  );
  assert.throws(
    () => load({ REDIS_URL: 'http://x' }),
    (err: unknown) => err instanceof ConfigError && /^REDIS_URL: /.test(err.problems[0]!),
  );
});

test('on a Redis Cluster the queue name must carry a hash tag', () => {
  const cluster = 'redis-cluster://n1:7000,n2:7001';
  assert.throws(
    () => load({ REDIS_URL: cluster }),
    (err: unknown) =>
      err instanceof ConfigError && /^QUEUE_NAME: .*hash tag, e\.g\. "\{tasks\}"/.test(err.problems[0]!),
  );
  assert.equal(load({ REDIS_URL: cluster, QUEUE_NAME: '{tasks}' }).QUEUE_NAME, '{tasks}');
  assert.equal(load({ QUEUE_NAME: 'tasks' }).QUEUE_NAME, 'tasks', 'one server: any name');
});

test('a sharded queue needs no hash tag of its own, and only the redis-list driver shards', () => {
  const cluster = 'redis-cluster://n1:7000,n2:7001';
  assert.equal(load({ REDIS_URL: cluster, QUEUE_SHARDS: '8' }).QUEUE_SHARDS, 8);
  assert.throws(
    () => load({ QUEUE_SHARDS: '4', QUEUE_DRIVER: 'bullmq' }),
    (err: unknown) =>
      err instanceof ConfigError && /^QUEUE_SHARDS: sharding needs QUEUE_DRIVER=redis-list/.test(err.problems[0]!),
  );
  assert.throws(() => load({ QUEUE_SHARDS: '0' }), ConfigError);
});

test('REDIS_PASSWORD and REDIS_SENTINEL_PASSWORD go into the URL, percent-encoded, over any written there', () => {
  const url = (env: Record<string, string>) => redisUrlWithPasswords(load(env));
  assert.equal(
    url({ REDIS_URL: 'redis://hub@r:6379', REDIS_PASSWORD: 'p@ss:/w?rd' }),
    'redis://hub:p%40ss%3A%2Fw%3Frd@r:6379',
  );
  assert.equal(url({ REDIS_URL: 'redis://hub:old@r:6379/0', REDIS_PASSWORD: 'new' }), 'redis://hub:new@r:6379/0');
  assert.equal(url({ REDIS_URL: 'redis://r:6379', REDIS_PASSWORD: 'x' }), 'redis://:x@r:6379');
  assert.equal(
    url({
      REDIS_URL: 'redis-sentinel://processor@s1:26379,s2:26379/mymaster',
      REDIS_PASSWORD: 'a',
      REDIS_SENTINEL_PASSWORD: 's&t',
    }),
    'redis-sentinel://processor:a@s1:26379,s2:26379/mymaster?sentinel_password=s%26t',
  );
  assert.equal(
    url({ REDIS_URL: 'redis-sentinel://s1:26379/m?sentinel_password=old', REDIS_SENTINEL_PASSWORD: 'new' }),
    'redis-sentinel://s1:26379/m?sentinel_password=new',
  );
  assert.equal(url({ REDIS_URL: 'redis://hub:kept@r:6379' }), 'redis://hub:kept@r:6379', 'unset: the URL as given');
  // What comes out is still a URL createRedis takes.
  assert.doesNotThrow(() =>
    parseRedisTarget(
      url({ REDIS_URL: 'redis-sentinel://u@s1:26379/m', REDIS_PASSWORD: 'p/q', REDIS_SENTINEL_PASSWORD: 's' }),
    ),
  );
});
