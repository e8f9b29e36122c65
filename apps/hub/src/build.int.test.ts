import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createMetricsRegistry } from '@telemetryhub/service-kit';
import { RedisServer, until } from '@telemetryhub/testkit';
import { createRedis, type RedisClient } from '@telemetryhub/queue';
import { eventsOf, parseEventsStrict, parseTaskEnvelope } from '@telemetryhub/schemas';
import { devicesFromEnv, loadHubConfig, type HubConfig } from './config.js';
import { buildHub } from './build.js';

const deviceOf = (event: unknown) => (event as { device_id: string }).device_id;
const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
let server: RedisServer;
let redis: RedisClient;

before(async () => {
  server = await RedisServer.start();
  redis = createRedis(server.url);
});
after(async () => {
  redis?.disconnect();
  await server?.stop();
});

test('buildHub, as main.ts runs it: a durable 202 means the reading is on the queue', async () => {
  const config: HubConfig = {
    ...loadHubConfig({ env: { REDIS_URL: server.url, QUEUE_NAME: 'hubbuilt' } }),
    HUB_PORT: 0,
  };
  const registry = createMetricsRegistry({ service: 'telemetryhub-hub', version: 'test', defaultMetrics: false });
  const hub = await buildHub(config, { devices: [] }, { log, registry });
  assert.equal(hub.drivers.length, 0);
  const listening = await hub.start();
  const url = `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;
  const tasks = async () =>
    (await redis.lrange('hubbuilt:pending', 0, -1)).flatMap((raw) => parseEventsStrict(parseTaskEnvelope(raw).payload));
  try {
    const res = await fetch(`${url}/v1/telemetry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: readFileSync(new URL('../../../fixtures/shapes/event-v2.json', import.meta.url), 'utf8'),
    });
    assert.equal(res.status, 202);
    assert.deepEqual(
      (await tasks()).map((r) => r.device_id),
      ['D-789'],
      'acknowledged (durable) only once on the queue',
    );
  } finally {
    for (const step of hub.shutdownSteps(5000)) await step.run();
  }
});

test('buildHub publishes in the TASK_PAYLOAD_FORMAT it is given: columns by default, readings when set', async () => {
  for (const [format, key] of [
    [undefined, 'columns'],
    ['readings', 'readings'],
  ] as const) {
    const queue = `hubformat-${key}`;
    const env = { REDIS_URL: server.url, QUEUE_NAME: queue, ...(format ? { TASK_PAYLOAD_FORMAT: format } : {}) };
    const config: HubConfig = { ...loadHubConfig({ env }), HUB_PORT: 0 };
    const registry = createMetricsRegistry({ service: 'telemetryhub-hub', version: 'test', defaultMetrics: false });
    const hub = await buildHub(config, { devices: [] }, { log, registry });
    const listening = await hub.start();
    try {
      const res = await fetch(`http://127.0.0.1:${(listening.address() as AddressInfo).port}/v1/telemetry`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: readFileSync(new URL('../../../fixtures/shapes/event-v2.json', import.meta.url), 'utf8'),
      });
      assert.equal(res.status, 202);
      const raws = await redis.lrange(`${queue}:pending`, 0, -1);
      assert.deepEqual(
        raws.map((raw) => Object.keys(parseTaskEnvelope(raw).payload as object)),
        [[key]],
        `${format ?? 'default'}: the payload's one key`,
      );
    } finally {
      for (const step of hub.shutdownSteps(5000)) await step.run();
    }
  }
});

test('buildHub with the simulator: its devices are registered, read and published once started', async () => {
  const config: HubConfig = {
    ...loadHubConfig({ env: { REDIS_URL: server.url, QUEUE_NAME: 'hubsim', SIM_DEVICES: '2', SIM_RATE_HZ: '50' } }),
    HUB_PORT: 0,
  };
  const registry = createMetricsRegistry({ service: 'telemetryhub-hub', version: 'test', defaultMetrics: false });
  const hub = await buildHub(config, devicesFromEnv(config), { log, registry });
  await hub.start();
  try {
    await until('both simulated devices published', async () => {
      const raws = await redis.lrange('hubsim:pending', 0, -1);
      const ids = new Set(raws.flatMap((raw) => eventsOf(parseTaskEnvelope(raw).payload).map(deviceOf)));
      return ids.has('sim-001') && ids.has('sim-002');
    });
  } finally {
    for (const step of hub.shutdownSteps(5000)) await step.run();
  }
});
