import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createMetricsRegistry } from '@telemetryhub/service-kit';
import { RedisListProducer, createRedis, type RedisClient } from '@telemetryhub/queue';
import { startStack, until, type LocalStack } from '@telemetryhub/testkit';
import { loadProcessorConfig, type ProcessorConfig } from './config.js';
import { buildProcessor } from './build.js';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
let stack: LocalStack;
let redis: RedisClient;

before(async () => {
  stack = await startStack();
  redis = createRedis(stack.redis.url);
});
after(async () => {
  redis?.disconnect();
  await stack?.stop();
});

test('buildProcessor, as main.ts runs it: stores and folds what the queue holds, serves it, and its shutdown steps leave nothing held', async () => {
  const config: ProcessorConfig = {
    ...loadProcessorConfig({
      env: { REDIS_URL: stack.redis.url, DATABASE_URL: stack.postgres.url, QUEUE_NAME: 'built', WORKER_THREADS: '1' },
    }),
    PROCESSOR_PORT: 0,
    FOLD_INTERVAL_MS: 100,
  };
  const registry = createMetricsRegistry({
    service: 'telemetryhub-task-processor',
    version: 'test',
    defaultMetrics: false,
  });
  const processor = buildProcessor(config, { log, registry });
  const server = await processor.start();
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const eventId = '0b8e3f52-7c1d-4a6b-9e2f-5d4c3b2a1f11';
    await new RedisListProducer(redis, 'built').enqueue([
      JSON.stringify({
        type: 'telemetry.analyze',
        payload: {
          readings: [
            {
              event_id: eventId,
              device_id: 'built-1',
              metric: 'temperature',
              event_time: new Date().toISOString(),
              value: 21.5,
              unit: 'C',
            },
          ],
        },
      }),
    ]);
    await until('the reading is stored', async () => {
      const { rows } = await processor.pool.query('SELECT value FROM readings WHERE event_id = $1', [eventId]);
      return rows.length === 1 && Number(rows[0].value) === 21.5;
    });
    const latest = await fetch(`${url}/v1/devices/built-1/metrics/temperature/latest`);
    assert.equal(latest.status, 200);
    assert.equal(((await latest.json()) as { value: number }).value, 21.5);
    assert.equal((await fetch(`${url}/ready`)).status, 200);
    await until('the reading is in its minute, and folded', async () => {
      const { rows } = await processor.pool.query(
        "SELECT count, (SELECT count(*) FROM fold_pending) AS pending FROM rollups_1m_all WHERE device_id = 'built-1'",
      );
      return rows.length === 1 && Number(rows[0].count) === 1 && Number(rows[0].pending) === 0;
    });
  } finally {
    for (const step of processor.shutdownSteps()) await step.run();
  }
  assert.equal(await redis.llen('built:pending'), 0);
  assert.deepEqual(await redis.keys('built:processing:*'), [], 'nothing left held by a consumer');
});
