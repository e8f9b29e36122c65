import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { shardIndex, shardQueueNames, taskRoutingKey } from './shard-routing.js';

const shape = (name: string) =>
  readFileSync(new URL(`../../../../fixtures/shapes/${name}.json`, import.meta.url), 'utf8');

test('one shard is the queue itself; more are hash-tagged names of their own', () => {
  assert.deepEqual(shardQueueNames('tasks', 1), ['tasks']);
  assert.deepEqual(shardQueueNames('tasks', 3), ['{tasks:0}', '{tasks:1}', '{tasks:2}']);
  // A tag in the base name would be the hash tag of every shard: it is dropped.
  assert.deepEqual(shardQueueNames('{tasks}', 2), ['{tasks:0}', '{tasks:1}']);
  assert.throws(() => shardQueueNames('tasks', 0), RangeError);
});

test('shardIndex is stable, in range, and spreads device ids evenly', () => {
  // Pinned values: a producer in another language can route the same way (FNV-1a 32-bit of the UTF-8 bytes).
  assert.equal(shardIndex('', 1000), 0x811c9dc5 % 1000);
  assert.equal(shardIndex('a', 1 << 30), 0xe40c292c % (1 << 30));
  assert.equal(shardIndex('sensor_001', 1), 0);
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) {
    const s = shardIndex(`dev-${i}`, 4);
    assert.ok(s >= 0 && s < 4);
    counts[s]! += 1;
  }
  for (const c of counts) assert.ok(c > 800 && c < 1200, `uneven spread: ${counts.join(', ')}`);
  assert.equal(shardIndex('dévice-ü', 7), shardIndex('dévice-ü', 7));
});

test('a task is routed by its first device in every shape producers send', () => {
  assert.equal(taskRoutingKey(shape('task-shape-a')), 'sensor_001');
  assert.equal(taskRoutingKey(shape('task-shape-b')), 'sensor_002', 'payload as a JSON string');
  assert.equal(taskRoutingKey(shape('task-numeric-priority')), 'BESS-07');
  const hubTask = {
    id: 't1',
    type: 'telemetry.analyze',
    priority: 50,
    created_at: '2026-01-01T00:00:00Z',
    attempts: 0,
    payload: { readings: [{ device_id: 'd-7' }, { device_id: 'd-8' }] },
  };
  assert.equal(taskRoutingKey(hubTask), 'd-7');
  assert.equal(taskRoutingKey({ json: JSON.stringify(hubTask), priority: 50 }), 'd-7', 'as spooled');
  const inColumns = { ...hubTask, payload: { columns: { event_id: ['a', 'b'], device_id: ['d-9', 'd-8'] } } };
  assert.equal(taskRoutingKey(inColumns), 'd-9', 'in columns');
  assert.equal(taskRoutingKey(JSON.stringify({ ...hubTask, payload: { n: 1 } })), 't1', 'no device: the id');
  assert.equal(taskRoutingKey('not json'), 'not json', 'unreadable: its bytes');
});
