import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { foldDue, type FoldSchedule } from './fold-schedule.js';

const schedule: FoldSchedule = { intervalMs: 1000, maxDelayMs: 10_000, readingsPerRow: 4, smallFoldRows: 1000 };

test('a fold is due with several readings per row, with few rows, once quiet, or at the last tick within the max delay', () => {
  // Readings still coming: the latest held 100 ms ago.
  const due = (readings: number, rows: number, ageMs: number, quietMs = 100) =>
    foldDue({ readings, rows, ageMs, quietMs }, schedule);
  assert.equal(due(0, 0, 60_000, 60_000), false, 'nothing held');
  assert.equal(due(900, 900, 0), true, 'a small fold, however sparse');
  assert.equal(due(200_000, 50_000, 1000), true, 'four readings per row');
  assert.equal(due(199_999, 50_000, 9000), false, 'a large fleet reporting slowly waits');
  assert.equal(due(50_000, 50_000, 9001), true, 'until the last tick within the max delay');
  assert.equal(due(50_000, 50_000, 3000, 999), false, 'nothing stored for less than an interval: more may come');
  assert.equal(due(50_000, 50_000, 3000, 1000), true, 'nothing stored for an interval: waiting gains nothing');
  const everyTick = { ...schedule, maxDelayMs: schedule.intervalMs };
  assert.equal(
    foldDue({ readings: 1, rows: 50_000, ageMs: 1, quietMs: 1 }, everyTick),
    true,
    'max delay = interval: every tick',
  );
});

test('before its last tick and while readings come, a large fold is due exactly at readingsPerRow readings per row', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 1_000_000 }),
      fc.integer({ min: schedule.smallFoldRows + 1, max: 200_000 }),
      fc.integer({ min: 0, max: schedule.maxDelayMs - schedule.intervalMs }),
      fc.integer({ min: 0, max: schedule.intervalMs - 1 }),
      (readings, rows, ageMs, quietMs) => {
        const due = foldDue({ readings, rows, ageMs, quietMs }, schedule);
        assert.equal(due, readings / rows >= schedule.readingsPerRow);
      },
    ),
  );
});
