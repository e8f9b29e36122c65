import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyDbError } from './pg-errors.js';

test('treats a database that cannot be reached as unavailable, not as the task’s fault', () => {
  for (const code of ['08006', '08001', '57P01', '53300', 'ECONNREFUSED', 'ECONNRESET']) {
    assert.equal(classifyDbError({ code }), 'unavailable', code);
  }
  assert.equal(classifyDbError(new Error('Connection terminated unexpectedly')), 'unavailable');
});

test('treats lost races (serialization, deadlock, statement timeout) as transient', () => {
  for (const code of ['40001', '40P01', '57014']) assert.equal(classifyDbError({ code }), 'transient', code);
});

test('treats bad data and integrity violations as data errors (narrowed down to the readings at fault)', () => {
  for (const code of ['22P02', '22003', '22008', '22021', '23502', '23514']) {
    assert.equal(classifyDbError({ code }), 'data', code);
  }
});

test('treats syntax/access errors and a unique violation outside the dedup path as permanent', () => {
  for (const code of ['23505', '42P01', '42703', 'XX000']) assert.equal(classifyDbError({ code }), 'permanent', code);
});
