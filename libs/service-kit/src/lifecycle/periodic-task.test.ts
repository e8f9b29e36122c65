import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeriodicTask } from './periodic-task.js';
import { sleep } from './sleep.js';

test('never overlaps a slow round, survives a failing one, and stop() waits for the round in progress', async () => {
  let active = 0;
  let maxActive = 0;
  let rounds = 0;
  const errors: unknown[] = [];
  const task = new PeriodicTask(
    async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      rounds++;
      await sleep(30);
      active--;
      if (rounds === 1) throw new Error('first round fails');
    },
    5,
    (err) => errors.push(err),
  );
  task.start();
  await sleep(120);
  await task.stop();
  assert.equal(maxActive, 1);
  assert.ok(rounds >= 2, 'rounds go on after a failure');
  assert.equal(errors.length, 1);
  assert.equal(active, 0, 'stop() waited for the round in progress');
  const after = rounds;
  await sleep(30);
  assert.equal(rounds, after, 'no round after stop()');
});

test('with now, the first round runs at start, not an interval later', async () => {
  let rounds = 0;
  const task = new PeriodicTask(async () => void rounds++, 60_000);
  task.start({ now: true });
  await task.stop();
  assert.equal(rounds, 1);
  const later = new PeriodicTask(async () => void rounds++, 60_000);
  later.start();
  await later.stop();
  assert.equal(rounds, 1, 'without it, nothing before the first interval');
});
