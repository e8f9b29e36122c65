import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readiness } from './readiness.js';

test('ready only while every dependency answers in time, and never while draining', async () => {
  let redisUp = true;
  const r = new Readiness(50)
    .register('redis', async () => {
      if (!redisUp) throw new Error('connection refused');
    })
    .register('postgres', async () => undefined);
  assert.deepEqual(await r.report(), { ready: true, draining: false, checks: { redis: 'ok', postgres: 'ok' } });
  redisUp = false;
  const down = await r.report();
  assert.equal(down.ready, false);
  assert.equal(down.checks.redis, 'connection refused');

  const hanging = new Readiness(50).register('postgres', () => new Promise(() => {}));
  assert.deepEqual((await hanging.report()).checks, { postgres: 'no answer in 50 ms' });

  redisUp = true;
  r.startDraining();
  assert.deepEqual(await r.report(), { ready: false, draining: true, checks: { redis: 'ok', postgres: 'ok' } });
});
