import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fullJitterBackoff } from './backoff.js';

test('the ceiling doubles from the base per attempt and stops at the cap; the delay is a share of it', () => {
  const ceiling = (attempt: number) => fullJitterBackoff(attempt, 100, 1000, () => 0.999999);
  assert.deepEqual([0, 1, 2, 3, 4, 60].map(ceiling), [99, 199, 399, 799, 999, 999]);
  assert.equal(
    fullJitterBackoff(3, 100, 1000, () => 0),
    0,
  );
  assert.equal(
    fullJitterBackoff(2, 100, 1000, () => 0.5),
    200,
  );
});
