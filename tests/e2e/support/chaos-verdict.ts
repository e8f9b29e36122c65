import assert from 'node:assert/strict';
import type { ChaosResult } from '../../../bench/chaos/run.js';

/** What every chaos run must show: each acknowledged event stored once, nothing else, the poison dead-lettered, exact rollups. */
export function assertNothingLost(r: ChaosResult, events: number): void {
  const logs = r.log_dir ? ` (app logs kept in ${r.log_dir}; faults at ${faultTimes(r)})` : '';
  assert.ok(r.acknowledged >= events, `acknowledged ${r.acknowledged}`);
  assert.deepEqual(
    { lost: r.lost, duplicates: r.duplicates, unexpected: r.unexpected, stored: r.stored },
    { lost: 0, duplicates: 0, unexpected: 0, stored: r.acknowledged },
    `lost, e.g. ${r.lost_sample.join(', ')}${logs}`,
  );
  assert.equal(r.dlq_entries, r.poison_sent, `dead letters against the poison sent${logs}`);
  assert.ok(r.dlq_matches_poison, `the dead letters carry the poison reasons${logs}`);
  assert.ok(r.rollups_exact, `rollups equal a recomputation from the raw rows${logs}`);
}

const faultTimes = (r: ChaosResult) => r.faults.map((f) => `${f.at_s} s: ${f.name}`).join('; ');
