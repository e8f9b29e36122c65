import { test } from 'node:test';
import assert from 'node:assert/strict';
import { briefError } from './brief-error.js';

test('keeps the message and, when there is one, the code — never the stack', () => {
  assert.deepEqual(briefError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })), {
    message: 'refused',
    code: 'ECONNREFUSED',
  });
  assert.deepEqual(briefError(new Error('timed out')), { message: 'timed out' });
  assert.deepEqual(briefError('plain string'), { message: 'plain string' });
  assert.deepEqual(briefError(null), { message: 'null' });
});
