import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runChaos } from '../../bench/chaos/run.js';
import { assertNothingLost } from './support/chaos-verdict.js';

// `npm run chaos -- --cluster --quick`: a Redis Cluster of three primaries with a replica each, the queue `{tasks}` on
// one of them, and that primary killed twice (its replica takes over, the old one rejoins as a replica) around a
// processor killed — with nothing lost or doubled. The full run (`--cluster`) kills it three times, and a hub too.
test('a quick cluster run: the queue’s Cluster primary killed twice around a processor crash, every acknowledged reading stored once', async () => {
  const r = await runChaos({ quick: true, topology: 'cluster', events: 3000, progress: () => {} });
  assert.equal(r.faults.filter((f) => f.name.startsWith('Redis Cluster primary')).length, 2);
  assertNothingLost(r, 3000);
});
