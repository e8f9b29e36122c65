import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runChaos } from '../../bench/chaos/run.js';

// `npm run chaos -- --cluster --quick`: a Redis Cluster of three primaries with a replica each, the queue `{tasks}` on
// one of them, and that primary killed twice (its replica takes over, the old one rejoins as a replica) around a
// processor killed — with nothing lost or doubled. The full run (`--cluster`) kills it three times, and a hub too.
test('a quick cluster run: the queue’s Cluster primary killed twice around a processor crash, every acknowledged reading stored once', async () => {
  const r = await runChaos({ quick: true, topology: 'cluster', events: 3000, progress: () => {} });
  assert.equal(r.faults.filter((f) => f.name.startsWith('Redis Cluster primary')).length, 2);
  assert.ok(r.acknowledged >= 3000, `acknowledged ${r.acknowledged}`);
  assert.deepEqual(
    { lost: r.lost, duplicates: r.duplicates, unexpected: r.unexpected, stored: r.stored },
    { lost: 0, duplicates: 0, unexpected: 0, stored: r.acknowledged },
    `lost, e.g. ${r.lost_sample.join(', ')}`,
  );
  assert.ok(r.dlq_matches_poison, 'the dead letters carry the poison reasons');
  assert.ok(r.rollups_exact, 'rollups equal a recomputation from the raw rows');
});
