import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PostgresServer, RedisServer, freePort, until } from '@telemetryhub/devstack';
import { startAppProcess, waitReady } from '../../scripts/local-pipeline.js';

/**
 * A processor started while PostgreSQL is down: alive (/health 200, so an orchestrator does not restart it in a
 * loop), not ready (/ready 503 saying why), every other route a 503 — and once PostgreSQL comes up it starts
 * for real, on the same port.
 */
test('during a PostgreSQL outage at start-up /health answers and /ready does not; it starts once PostgreSQL is up', async () => {
  const pgPort = await freePort();
  const redis = await RedisServer.start();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const processor = startAppProcess('task-processor', {
    ...process.env,
    DATABASE_URL: `postgres://postgres@127.0.0.1:${pgPort}/telemetry`,
    REDIS_URL: redis.url,
    PROCESSOR_PORT: String(port),
    LOG_LEVEL: 'warn',
  });
  let postgres: PostgresServer | undefined;
  try {
    await until(
      '/health answers',
      async () => (await fetch(`${url}/health`).catch(() => null))?.status === 200,
      60_000,
      100,
    );
    const ready = await fetch(`${url}/ready`);
    assert.equal(ready.status, 503);
    assert.match(JSON.stringify(await ready.json()), /waiting for PostgreSQL/);
    const query = await fetch(`${url}/v1/alerts`);
    assert.equal(query.status, 503);
    assert.equal(query.headers.get('retry-after'), '5');
    await query.arrayBuffer();
    // Still alive a while later (no start-up deadline by default), then PostgreSQL arrives.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(processor.hasExited, false);
    postgres = await PostgresServer.start({ port: pgPort, database: 'telemetry' });
    await waitReady(url, processor, 'task-processor', 60_000);
    assert.equal((await fetch(`${url}/v1/alerts`)).status, 200);
  } finally {
    await processor.stop('SIGTERM', 30_000);
    await postgres?.stop();
    await redis.stop();
  }
});
