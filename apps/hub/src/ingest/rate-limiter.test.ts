import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from './rate-limiter.js';

test('allows a burst, then one request per refill interval, and says how long to wait', () => {
  let now = 0;
  const limiter = new RateLimiter(2, 3, () => now);
  assert.deepEqual([limiter.take('a'), limiter.take('a'), limiter.take('a')], [0, 0, 0]);
  assert.equal(limiter.take('a'), 0.5, 'empty: the next token comes in half a second');
  now += 500;
  assert.equal(limiter.take('a'), 0);
  assert.ok(limiter.take('a') > 0);
});

test('keeps one bucket per client and forgets the least recently seen past its bound', () => {
  let now = 0;
  const limiter = new RateLimiter(1, 1, () => now, 2);
  assert.equal(limiter.take('a'), 0);
  assert.equal(limiter.take('b'), 0);
  assert.ok(limiter.take('a') > 0, 'a is empty, b is untouched');
  assert.equal(limiter.take('c'), 0, 'c pushes out b, the least recently seen');
  assert.equal(limiter.take('b'), 0, 'b starts again with a full bucket');
  now += 1000;
  assert.equal(limiter.take('a'), 0);
});
