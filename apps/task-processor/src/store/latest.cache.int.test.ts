import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { RedisServer } from '@telemetryhub/testkit';
import { createRedis, type RedisClient } from '@telemetryhub/queue';
import { LatestCache } from './latest.cache.js';
import { LatestValues } from './latest-values.js';
import { testReading } from '../app.test-support.js';

let server: RedisServer;
let redis: RedisClient;
before(async () => {
  server = await RedisServer.start();
  redis = createRedis(server.url);
});
after(async () => {
  redis.disconnect();
  await server.stop();
});

const at = (s: number) => new Date(Date.parse('2026-06-01T00:00:00Z') + s * 1000).toISOString();

test('keeps the newest reading per device and metric across many devices, whatever the order; an older one never overwrites', async () => {
  const cache = new LatestCache(redis, pino({ level: 'silent' }), 'lc1');
  // 600 devices (more than one script call's worth) × 2 metrics, three readings each, newest in the middle.
  const readings = [];
  for (let d = 0; d < 600; d++) {
    for (const metric of ['t', 'h']) {
      for (const s of [5, 9, 1]) {
        readings.push(testReading({ device_id: `dev-${d}`, metric, event_time: at(s), value: d * 100 + s }));
      }
    }
  }
  await cache.write(LatestValues.of(readings));
  for (const d of [0, 255, 256, 599]) {
    assert.equal((await cache.get(`dev-${d}`, 't'))?.value, d * 100 + 9, `dev-${d}`);
    assert.equal((await cache.get(`dev-${d}`, 'h'))?.event_time, at(9));
  }
  // A late reading (older) changes nothing; a newer one wins, also after the server forgot the script.
  await cache.write(LatestValues.of([testReading({ device_id: 'dev-7', metric: 't', event_time: at(3), value: -1 })]));
  assert.equal((await cache.get('dev-7', 't'))?.value, 709);
  await redis.script('FLUSH');
  await cache.write(LatestValues.of([testReading({ device_id: 'dev-7', metric: 't', event_time: at(20), value: 42 })]));
  assert.equal((await cache.get('dev-7', 't'))?.value, 42);
  assert.equal(await cache.get('dev-7', 'nope'), null);
});
