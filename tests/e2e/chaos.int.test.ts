import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runChaos } from '../../bench/chaos/run.js';
import { assertNothingLost } from './support/chaos-verdict.js';

// `npm run chaos -- --quick`, as a test: the whole stack as `npm start` runs it, producers over HTTP and plain
// LPUSH (duplicates, out of order, poison), and the cheap faults in turn — then nothing lost, nothing doubled,
// exactly the poison dead-lettered, rollups equal to a recomputation from raw.
test('a quick chaos run: every acknowledged reading stored once through nine faults, only the poison dead-lettered', async () => {
  const r = await runChaos({ quick: true, events: 3000, progress: () => {} });
  assert.equal(r.faults.length, 9);
  assert.ok(r.duplicates_sent > 0, 'duplicates were sent');
  assertNothingLost(r, 3000);
  for (const f of r.faults) assert.ok(f.recovery_s >= 0, f.name);
});
