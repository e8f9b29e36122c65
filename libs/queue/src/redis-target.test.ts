import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRedisTarget, RedisUrlError } from './redis-target.js';
import { redactUrl } from '@telemetryhub/service-kit';

test('plain and TLS URLs go to ioredis as they are', () => {
  assert.deepEqual(parseRedisTarget('redis://127.0.0.1:6379/2'), { kind: 'url', url: 'redis://127.0.0.1:6379/2' });
  assert.equal(parseRedisTarget('rediss://u:p@host:6380').kind, 'url');
});

test('a Sentinel URL lists its sentinels, the primary name, the ACL user and db', () => {
  const t = parseRedisTarget('redis-sentinel://app:s%40cret@s1:26379,s2,[::1]:26380/orders/3?sentinel_password=sp');
  assert.equal(t.kind, 'sentinel');
  if (t.kind !== 'sentinel') return;
  assert.deepEqual(t.options.sentinels, [
    { host: 's1', port: 26379 },
    { host: 's2', port: 26379 },
    { host: '::1', port: 26380 },
  ]);
  assert.equal(t.options.name, 'orders');
  assert.equal(t.options.username, 'app');
  assert.equal(t.options.password, 's@cret');
  assert.equal(t.options.db, 3);
  assert.equal(t.options.sentinelPassword, 'sp');
});

test('rediss-sentinel:// speaks TLS to the sentinels and to the servers they name; redis-sentinel:// to neither', () => {
  const tls = parseRedisTarget('rediss-sentinel://s1:26379/mymaster');
  assert.ok(tls.kind === 'sentinel');
  assert.deepEqual([tls.options.tls, tls.options.sentinelTLS, tls.options.enableTLSForSentinelMode], [{}, {}, true]);
  const plain = parseRedisTarget('redis-sentinel://s1:26379/mymaster');
  assert.ok(plain.kind === 'sentinel');
  assert.deepEqual([plain.options.tls, plain.options.enableTLSForSentinelMode], [undefined, undefined]);
});

test('a Sentinel URL without a primary name uses mymaster', () => {
  const t = parseRedisTarget('redis-sentinel://redis-sentinel:26379');
  assert.equal(t.kind === 'sentinel' && t.options.name, 'mymaster');
});

test('anything else is refused with a typed error that does not echo the password', () => {
  assert.throws(
    () => parseRedisTarget('http://user:hunter2@x'),
    (err: unknown) => {
      assert.ok(err instanceof RedisUrlError);
      assert.doesNotMatch(err.message, /hunter2/);
      return true;
    },
  );
  assert.throws(() => parseRedisTarget('redis-sentinel://a:b:c/x'), RedisUrlError);
});

test('redactUrl hides both passwords of a Sentinel URL', () => {
  assert.equal(
    redactUrl('redis-sentinel://app:pw@s1:26379,s2:26379/mymaster?sentinel_password=sp'),
    'redis-sentinel://app:***@s1:26379,s2:26379/mymaster?sentinel_password=***',
  );
});

test('a Cluster URL lists its seed nodes and the ACL user; rediss-cluster:// turns TLS on', () => {
  const t = parseRedisTarget('redis-cluster://app:s%40cret@n1:7000,n2,[::1]:7002');
  assert.equal(t.kind, 'cluster');
  if (t.kind !== 'cluster') return;
  assert.deepEqual(t.nodes, [
    { host: 'n1', port: 7000 },
    { host: 'n2', port: 6379 },
    { host: '::1', port: 7002 },
  ]);
  assert.deepEqual(t.options, { username: 'app', password: 's@cret' });
  const tls = parseRedisTarget('rediss-cluster://n1:7000');
  assert.ok(tls.kind === 'cluster' && tls.options.tls);
  assert.throws(() => parseRedisTarget('redis-cluster://n1:x:y'), /bad node address/);
});
