import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redisRoleRules } from './acl.js';

test('each role is granted its keys and commands only; a sharded queue covers every shard', () => {
  const hub = redisRoleRules('hub', 'tasks', { shards: 2 });
  assert.deepEqual(
    hub.filter((r) => r.startsWith('~')),
    ['~{tasks:0}:pending', '~{tasks:0}:pending:high', '~{tasks:1}:pending', '~{tasks:1}:pending:high'],
  );
  assert.ok(hub.includes('-@all') && hub.includes('+lpush'));
  assert.ok(!hub.some((r) => /^\+(lrange|rpop|del|@list|@all)$/.test(r)), 'the hub cannot read, take or delete');
  const scaler = redisRoleRules('autoscaler', 'tasks');
  assert.deepEqual(
    scaler.filter((r) => r.includes('~')),
    ['%R~tasks:pending', '%R~tasks:pending:high'],
  );
  assert.deepEqual(
    redisRoleRules('processor', 'q', { latestPrefix: 'site1' }).filter((r) => r.startsWith('~')),
    ['~q:*', '~site1:latest:*'],
  );
});
