import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { RedisCluster } from '@telemetryhub/testkit';
import { createRedis, shardIndex, shardQueueNames, shardedQueueDepths } from '@telemetryhub/queue';
import { startLocalPipeline } from '../../scripts/local-pipeline.js';
import { eventually } from './support/eventually.js';
import { postOriginalAndReadLatest } from './support/ingest-through.js';
import { assertBothExitedCleanly } from './support/graceful-exits.js';

test('REDIS_URL=redis-cluster://… with QUEUE_SHARDS: hub and processor run a sharded queue over a 3-primary Redis Cluster end to end', async () => {
  const cluster = await RedisCluster.start();
  const redis = createRedis(cluster.url);
  let pipeline: Awaited<ReturnType<typeof startLocalPipeline>> | undefined;
  let db: pg.Client | undefined;
  try {
    pipeline = await startLocalPipeline({
      env: {
        REDIS_URL: cluster.url,
        QUEUE_NAME: 'tasks',
        QUEUE_SHARDS: '4',
        SIM_DEVICES: '8',
        SIM_RATE_HZ: '5',
        LOG_LEVEL: 'warn',
        BATCH_LINGER_MS: '20',
        RAW_RETENTION_DAYS: '3650', // the fixtures are from early 2026: store them, not as late readings
      },
    });
    const latest = await postOriginalAndReadLatest(pipeline.hubUrl, pipeline.processorUrl);
    assert.equal(latest.value, 22.7);
    db = new pg.Client({ connectionString: pipeline.stack.postgres.url });
    await db.connect();
    await eventually(async () => {
      const { rows } = await db!.query<{ n: string }>(
        `SELECT count(DISTINCT device_id) AS n FROM readings WHERE device_id LIKE 'sim-%'`,
      );
      return Number(rows[0]!.n) === 8 ? true : undefined;
    });
    // The simulated devices' tasks went through several shards, each its own hash slot; nothing dead-lettered.
    const shards = shardQueueNames('tasks', 4);
    const served = await Promise.all(shards.map((q) => redis.zcard(`${q}:consumers`)));
    assert.ok(
      served.every((n) => n > 0),
      `the processor holds a lease in every shard (${served.join(', ')})`,
    );
    const { rows } = await db.query<{ device_id: string }>(
      `SELECT DISTINCT device_id FROM readings WHERE device_id LIKE 'sim-%'`,
    );
    const through = new Set(rows.map((r) => shardIndex(r.device_id, 4)));
    assert.ok(through.size >= 2, `the stored devices came through ${through.size} shards`);
    const depths = await shardedQueueDepths(redis, shards);
    assert.equal(depths.failed, 0, 'no task dead-lettered');
  } finally {
    await db?.end().catch(() => {});
    redis.disconnect();
    await pipeline?.stop();
    await cluster.stop();
  }
  await assertBothExitedCleanly(pipeline);
});
