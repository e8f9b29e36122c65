import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isRetryableDbError } from './pg-errors.js';

test('treats lost connections, deadlocks and shutdowns as retryable', () => {
  for (const code of ['08006', '08001', '40001', '40P01', '57P01', '53300', 'ECONNREFUSED']) {
    assert.equal(isRetryableDbError({ code }), true, code);
  }
  assert.equal(isRetryableDbError(new Error('Connection terminated unexpectedly')), true);
});

test('treats bad data and integrity violations as permanent', () => {
  for (const code of ['22P02', '22003', '23502', '23505', '42P01']) {
    assert.equal(isRetryableDbError({ code }), false, code);
  }
});
