import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runChaos } from '../../bench/chaos/run.js';
import { assertNothingLost } from './support/chaos-verdict.js';

// `npm run chaos -- --failover --quick`: Redis as a primary and a replica behind a Sentinel, every client following
// it, and two failovers (the primary killed, the replica promoted, the old one back as its replica) around a
// processor killed — with nothing lost or doubled. The full run (`--failover`) has three, and a hub killed too.
test('a quick failover run: two Sentinel failovers around a processor crash, every acknowledged reading stored once', async () => {
  const r = await runChaos({ quick: true, topology: 'sentinel', events: 3000, progress: () => {} });
  assert.equal(r.faults.filter((f) => f.name.startsWith('Redis primary killed')).length, 2);
  assertNothingLost(r, 3000);
});
