import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runChaos } from '../../bench/chaos/run.js';

// `npm run chaos -- --failover --quick`: Redis as a primary and a replica behind a Sentinel, every client following
// it, and two failovers (the primary killed, the replica promoted, the old one back as its replica) around a
// processor killed — with nothing lost or doubled. The full run (`--failover`) has three, and a hub killed too.
test('a quick failover run: two Sentinel failovers around a processor crash, every acknowledged reading stored once', async () => {
  const r = await runChaos({ quick: true, topology: 'sentinel', events: 3000, progress: () => {} });
  assert.equal(r.faults.filter((f) => f.name.startsWith('Redis primary killed')).length, 2);
  assert.ok(r.acknowledged >= 3000, `acknowledged ${r.acknowledged}`);
  assert.deepEqual(
    { lost: r.lost, duplicates: r.duplicates, unexpected: r.unexpected, stored: r.stored },
    { lost: 0, duplicates: 0, unexpected: 0, stored: r.acknowledged },
    `lost, e.g. ${r.lost_sample.join(', ')}`,
  );
  assert.ok(r.dlq_matches_poison, 'the dead letters carry the poison reasons');
  assert.ok(r.rollups_exact, 'rollups equal a recomputation from the raw rows');
});
