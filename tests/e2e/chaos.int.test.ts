import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runChaos } from '../../bench/chaos/run.js';

// `npm run chaos -- --quick`, as a test: the whole stack as `npm start` runs it, producers over HTTP and plain
// LPUSH (duplicates, out of order, poison), and the cheap faults in turn — then nothing lost, nothing doubled,
// exactly the poison dead-lettered, rollups equal to a recomputation from raw.
test('a quick chaos run: every acknowledged reading stored once through nine faults, only the poison dead-lettered', async () => {
  const r = await runChaos({ quick: true, events: 3000, progress: () => {} });
  assert.equal(r.faults.length, 9);
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
