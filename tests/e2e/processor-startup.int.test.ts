import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { PostgresServer, RedisServer, freePort, until } from '@telemetryhub/testkit';
import { startAppProcess, waitReady } from '../../scripts/local-pipeline.js';

/**
 * A processor started while PostgreSQL is down: alive (/health 200, so an orchestrator does not restart it in a
 * loop), not ready (/ready 503 saying why), every other route a 503 — and once PostgreSQL comes up it starts
 * for real, on the same port.
 */
/**
 * The processor's database address, held by the test for the whole run (so no other test can take the port):
 * connections are cut off while `target` is unset (PostgreSQL "down"), and forwarded to it once set.
 */
async function databaseDoor() {
  let target: number | undefined;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    if (target === undefined) return void client.destroy();
    const upstream = connect(target, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    open: (port: number) => (target = port),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

test('during a PostgreSQL outage at start-up /health answers and /ready does not; it starts once PostgreSQL is up', async () => {
  const door = await databaseDoor();
  const redis = await RedisServer.start();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const processor = startAppProcess('task-processor', {
    ...process.env,
    DATABASE_URL: `postgres://postgres@127.0.0.1:${door.port}/telemetry`,
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
    postgres = await PostgresServer.start({ database: 'telemetry' });
    door.open(Number(new URL(postgres.url).port));
    await waitReady(url, processor, 'task-processor', 60_000);
    assert.equal((await fetch(`${url}/v1/alerts`)).status, 200);
  } finally {
    await processor.stop('SIGTERM', 30_000);
    await door.close();
    await postgres?.stop();
    await redis.stop();
  }
});
