import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { Queue } from 'bullmq';
import { DeadLetterQueue, createRedis } from '@telemetryhub/queue';
import { startLocalPipeline } from '../../scripts/local-pipeline.js';
import { eventually } from './support/eventually.js';
import { postOriginalAndReadLatest } from './support/ingest-through.js';
import { assertBothExitedCleanly } from './support/graceful-exits.js';

test('QUEUE_DRIVER=bullmq: hub and processor run over BullMQ; readings arrive, a poison task reaches the DLQ', async () => {
  const pipeline = await startLocalPipeline({
    env: {
      QUEUE_DRIVER: 'bullmq',
      SIM_DEVICES: '2',
      SIM_RATE_HZ: '5',
      LOG_LEVEL: 'warn',
      BATCH_LINGER_MS: '20',
      RAW_RETENTION_DAYS: '3650', // the fixtures are from early 2026: store them, do not set them aside as expired
    },
  });
  const redis = createRedis(pipeline.stack.redis.url, { bullmq: true });
  const queue = new Queue('tasks', { connection: redis });
  const db = new pg.Client({ connectionString: pipeline.stack.postgres.url });
  try {
    const latest = await postOriginalAndReadLatest(pipeline.hubUrl, pipeline.processorUrl);
    assert.equal(latest.value, 22.7);

    await db.connect();
    await eventually(async () => {
      const { rows } = await db.query<{ n: string }>(
        `SELECT count(DISTINCT device_id) AS n FROM readings WHERE device_id LIKE 'sim-%'`,
      );
      return Number(rows[0]!.n) === 2 ? true : undefined;
    });
    // The hub published through BullMQ: its job-id counter moved (a redis-list hub would leave it unset).
    assert.ok(Number(await redis.get('bull:tasks:id')) > 0, 'the hub added BullMQ jobs');

    // A task no handler can store, added straight to BullMQ, ends in our DLQ with its reason.
    await queue.add('task', { raw: '{"type":"telemetry.analyze","payload":{"device_id":"x"}}' }, { priority: 2 });
    const dlq = new DeadLetterQueue(redis, 'tasks');
    const [entry] = await eventually(async () => {
      const entries = await dlq.list();
      return entries.length ? entries : undefined;
    });
    assert.equal(entry?.record?.reason, 'invalid_payload');
  } finally {
    await db.end().catch(() => {});
    await queue.close();
    redis.disconnect();
    await pipeline.stop();
  }
  await assertBothExitedCleanly(pipeline);
});
