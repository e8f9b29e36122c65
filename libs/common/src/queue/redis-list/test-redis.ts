import type { RedisClient } from '../redis-connection.js';
import { RedisServer, type RedisServerOptions } from '@telemetryhub/devstack';
import { createRedis } from '../redis-connection.js';

/** A throwaway redis-server with the two connections a consumer needs (tests only; not exported by the lib). */
export interface TestRedis {
  server: RedisServer;
  redis: RedisClient;
  blocking: RedisClient;
}

export async function startTestRedis(opts: RedisServerOptions = {}): Promise<TestRedis> {
  const server = await RedisServer.start(opts);
  return { server, redis: createRedis(server.url), blocking: createRedis(server.url, { blocking: true }) };
}

export async function stopTestRedis(t: TestRedis | undefined): Promise<void> {
  if (!t) return;
  t.redis.disconnect();
  t.blocking.disconnect();
  await t.server.stop();
}
