import { RedisServer, type RedisServerOptions } from './redis-server.js';
import { PostgresServer, type PostgresServerOptions } from './postgres-server.js';

export interface LocalStack {
  redis: RedisServer;
  postgres: PostgresServer;
  /** Stops both servers (in parallel). Idempotent. */
  stop(): Promise<void>;
}

/** Starts Redis and PostgreSQL side by side; if one fails the other is stopped before the error is thrown. */
export async function startStack(
  opts: { redis?: RedisServerOptions; postgres?: PostgresServerOptions } = {},
): Promise<LocalStack> {
  const [redis, postgres] = await Promise.allSettled([
    RedisServer.start(opts.redis),
    PostgresServer.start(opts.postgres),
  ]);
  if (redis.status === 'rejected' || postgres.status === 'rejected') {
    await Promise.allSettled([
      redis.status === 'fulfilled' ? redis.value.stop() : undefined,
      postgres.status === 'fulfilled' ? postgres.value.stop() : undefined,
    ]);
    throw redis.status === 'rejected' ? redis.reason : (postgres as PromiseRejectedResult).reason;
  }
  return {
    redis: redis.value,
    postgres: postgres.value,
    stop: async () => {
      await Promise.allSettled([redis.value.stop(), postgres.value.stop()]);
    },
  };
}
