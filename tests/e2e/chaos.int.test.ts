import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runChaos } from '../../bench/chaos/run.js';

// `npm run chaos -- --quick`, as a test: the whole stack as `npm start` runs it, producers over HTTP and plain
// LPUSH (duplicates, out of order, poison), and the cheap faults in turn — then nothing lost, nothing doubled,
// exactly the poison dead-lettered, rollups equal to a recomputation from raw.
test('a quick chaos run: every acknowledged reading stored once through eight faults, only the poison dead-lettered', async () => {
  const r = await runChaos({ quick: true, events: 3000, progress: () => {} });
  assert.equal(r.faults.length, 8);
  assert.ok(r.acknowledged >= 3000, `acknowledged ${r.acknowledged}`);
  assert.ok(r.duplicates_sent > 0, 'duplicates were sent');
  assert.deepEqual(
    { lost: r.lost, duplicates: r.duplicates, unexpected: r.unexpected, stored: r.stored },
    { lost: 0, duplicates: 0, unexpected: 0, stored: r.acknowledged },
    `lost, e.g. ${r.lost_sample.join(', ')}`,
  );
  assert.equal(r.dlq_entries, r.poison_sent);
  assert.ok(r.dlq_matches_poison, 'the dead letters carry the poison reasons');
  assert.ok(r.rollups_exact, 'rollups equal a recomputation from the raw rows');
  for (const f of r.faults) assert.ok(f.recovery_s >= 0, f.name);
});

// `npm run chaos -- --failover --quick`: Redis as a primary and a replica behind a Sentinel, every client following
// it, and three failovers (the primary killed, the replica promoted, the old one back as its replica) among a
// processor and a hub killed — with nothing lost or doubled.
test('a quick failover run: three Sentinel failovers among app crashes, every acknowledged reading stored once', async () => {
  const r = await runChaos({ quick: true, topology: 'sentinel', events: 3000, progress: () => {} });
  assert.equal(r.faults.filter((f) => f.name.startsWith('Redis primary killed')).length, 3);
  assert.ok(r.acknowledged >= 3000, `acknowledged ${r.acknowledged}`);
  assert.deepEqual(
    { lost: r.lost, duplicates: r.duplicates, unexpected: r.unexpected, stored: r.stored },
    { lost: 0, duplicates: 0, unexpected: 0, stored: r.acknowledged },
    `lost, e.g. ${r.lost_sample.join(', ')}`,
  );
  assert.ok(r.dlq_matches_poison, 'the dead letters carry the poison reasons');
  assert.ok(r.rollups_exact, 'rollups equal a recomputation from the raw rows');
});

// `npm run chaos -- --cluster --quick`: a Redis Cluster of three primaries with a replica each, the queue `{tasks}` on
// one of them, and that primary killed three times (its replica takes over, the old one rejoins as a replica) among
// a processor and a hub killed — with nothing lost or doubled.
test('a quick cluster run: the queue’s Cluster primary killed three times among app crashes, every acknowledged reading stored once', async () => {
  const r = await runChaos({ quick: true, topology: 'cluster', events: 3000, progress: () => {} });
  assert.equal(r.faults.filter((f) => f.name.startsWith('Redis Cluster primary')).length, 3);
  assert.ok(r.acknowledged >= 3000, `acknowledged ${r.acknowledged}`);
  assert.deepEqual(
    { lost: r.lost, duplicates: r.duplicates, unexpected: r.unexpected, stored: r.stored },
    { lost: 0, duplicates: 0, unexpected: 0, stored: r.acknowledged },
    `lost, e.g. ${r.lost_sample.join(', ')}`,
  );
  assert.ok(r.dlq_matches_poison, 'the dead letters carry the poison reasons');
  assert.ok(r.rollups_exact, 'rollups equal a recomputation from the raw rows');
});
