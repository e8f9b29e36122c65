import { RedisServer, type RedisServerOptions } from '../redis-server.js';

/** What a test needs of a Redis client: to close it. */
export interface Disconnectable {
  disconnect(): void;
}

/** How a test connects: the code under test's own factory (the queue's createRedis), so tests use its options. */
export type Connect<C> = (url: string, opts: { blocking?: boolean }) => C;

/** A throwaway redis-server with the two connections a consumer needs (tests only). */
export interface TestRedis<C extends Disconnectable> {
  server: RedisServer;
  redis: C;
  blocking: C;
}

export async function startTestRedis<C extends Disconnectable>(
  connect: Connect<C>,
  opts: RedisServerOptions = {},
): Promise<TestRedis<C>> {
  const server = await RedisServer.start(opts);
  return { server, redis: connect(server.url, {}), blocking: connect(server.url, { blocking: true }) };
}

export async function stopTestRedis(t: TestRedis<Disconnectable> | undefined): Promise<void> {
  if (!t) return;
  t.redis.disconnect();
  t.blocking.disconnect();
  await t.server.stop();
}
