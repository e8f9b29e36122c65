import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { briefError } from '@telemetryhub/service-kit';
import { parseRedisTarget } from './redis-target.js';

/** A connection to one Redis (or a Sentinel group's primary) or to a Redis Cluster: the same commands. */
export type RedisClient = Redis | Cluster;

export interface RedisConnectionOptions {
  /** Timeout of every non-blocking command (ms). Default 5000. */
  commandTimeoutMs?: number;
  /** Connect timeout (ms). Default 5000. */
  connectTimeoutMs?: number;
  /** Connection used for BLMOVE: no command timeout, blocking-command protection instead. */
  blocking?: boolean;
  /**
   * A connection handed to BullMQ, which requires `maxRetriesPerRequest: null` and runs its own blocking
   * commands (it duplicates the connection for them): no per-command timeout.
   */
  bullmq?: boolean;
  /** Queue commands while disconnected (true) or fail them at once (false, what a producer with a spool wants). */
  offlineQueue?: boolean;
  name?: string;
  log?: Logger;
}

/**
 * An ioredis client with timeouts on everything: commands time out, reconnects back off (capped at 5 s), and
 * errors are logged (at most once per 10 s) rather than left to the default handler. TLS and ACL user/password
 * come from the URL (`rediss://user:pass@host:port/db`); a `redis-sentinel://` URL follows a Sentinel group's
 * primary through failovers, a `redis-cluster://` URL a Redis Cluster (see parseRedisTarget).
 */
/** Reconnect backoff (ms): 200, 400 … capped at 5 s; never gives up. */
const reconnectDelay = (times: number): number => Math.min(100 * 2 ** Math.min(times, 6), 5000);

export function createRedis(url: string, opts: RedisConnectionOptions = {}): RedisClient {
  const options: RedisOptions = {
    connectTimeout: opts.connectTimeoutMs ?? 5000,
    maxRetriesPerRequest: opts.bullmq ? null : 2,
    enableOfflineQueue: opts.offlineQueue ?? true,
    retryStrategy: reconnectDelay,
    connectionName: opts.name ?? 'telemetryhub',
    ...(opts.bullmq
      ? {}
      : opts.blocking
        ? { blockingTimeout: 1000, blockingTimeoutGrace: 1000 }
        : { commandTimeout: opts.commandTimeoutMs ?? 5000 }),
  };
  const target = parseRedisTarget(url);
  const redis =
    target.kind === 'url'
      ? new Redis(target.url, options)
      : target.kind === 'sentinel'
        ? new Redis({ ...options, ...target.options, sentinelRetryStrategy: reconnectDelay })
        : new Cluster(target.nodes, {
            redisOptions: { ...options, ...target.options },
            clusterRetryStrategy: reconnectDelay,
            enableOfflineQueue: options.enableOfflineQueue,
            // Commands to different nodes in one tick go out as one pipeline per node (explicit pipelines must
            // stay within one slot in a cluster).
            enableAutoPipelining: true,
          });
  let lastLogged = 0;
  redis.on('error', (err) => {
    const now = Date.now();
    if (now - lastLogged < 10_000) return;
    lastLogged = now;
    opts.log?.warn({ err: briefError(err) }, 'redis connection error');
  });
  return redis;
}

/**
 * Why the first seed node of a `redis-cluster://` URL refuses a connection (untrusted certificate, WRONGPASS,
 * refused), asked of that node alone: ioredis' cluster client reports only "Failed to refresh slots cache." or
 * "Connection is closed.", because its slot-refresh connections swallow their own errors. Undefined for other
 * URLs, or when the seed answers. For error messages (the CLI), not for the data path.
 */
export async function seedNodeError(url: string, timeoutMs = 3000): Promise<Error | undefined> {
  const target = parseRedisTarget(url);
  if (target.kind !== 'cluster') return undefined;
  const probe = new Redis({
    ...target.options,
    ...target.nodes[0],
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  let connectionError: Error | undefined;
  probe.on('error', (err: Error) => (connectionError = err));
  try {
    await probe.connect();
    await probe.ping();
    return undefined;
  } catch (err) {
    return connectionError ?? (err as Error);
  } finally {
    probe.disconnect();
  }
}
