import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { signWebhook, verifyWebhook } from './webhook-signature.js';

test('the signature is the documented recipe: HMAC-SHA256 over "<timestamp>.<body>"', () => {
  const body = '{"event":"alert.fired"}';
  const recipe = createHmac('sha256', 'shh').update(`1767000000.${body}`).digest('hex');
  assert.equal(signWebhook('shh', 1767000000, body), `sha256=${recipe}`);
});

test('a receiver accepts a fresh, intact request and refuses a tampered, re-signed or replayed one', () => {
  const body = '{"a":1}';
  const sig = signWebhook('shh', 1000, body);
  const ok = { secret: 'shh', body, timestamp: '1000', signature: sig, nowSeconds: 1100 };
  assert.equal(verifyWebhook(ok), true);
  assert.equal(verifyWebhook({ ...ok, body: '{"a":2}' }), false, 'tampered body');
  assert.equal(verifyWebhook({ ...ok, secret: 'other' }), false, 'wrong secret');
  assert.equal(verifyWebhook({ ...ok, timestamp: '1001' }), false, 'timestamp is signed too');
  assert.equal(verifyWebhook({ ...ok, nowSeconds: 1000 + 301 }), false, 'outside the replay window');
  assert.equal(verifyWebhook({ ...ok, signature: undefined }), false);
});
