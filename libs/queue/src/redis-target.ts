import type { RedisOptions } from 'ioredis';
import { AppError, ErrorCodes } from '@telemetryhub/service-kit';

/**
 * Where Redis is, from one `REDIS_URL`:
 * - `redis://[user:pass@]host:port[/db]` or `rediss://…` (TLS): one server.
 * - `redis-sentinel://[user:pass@]host:port[,host:port…][/master[/db]]`: a Sentinel group; ioredis asks the
 *   sentinels for the current primary of `master` (default `mymaster`) and follows failovers. The user and password
 *   are the Redis servers' (ACL); `?sentinel_password=` sets the sentinels' own, when they have one.
 *   `rediss-sentinel://` speaks TLS to the sentinels and to the servers they name.
 * - `redis-cluster://[user:pass@]host:port[,host:port…]` (or `rediss-cluster://` for TLS): a Redis Cluster, found
 *   from any of the seed nodes listed; ioredis follows slot moves and failovers. Queue names must then carry a
 *   hash tag (`{tasks}`) so that a queue's keys share a slot.
 */
export type RedisTarget =
  | { kind: 'url'; url: string }
  | { kind: 'sentinel'; options: RedisOptions }
  | { kind: 'cluster'; nodes: Array<{ host: string; port: number }>; options: RedisOptions };

export class RedisUrlError extends AppError {
  constructor(message: string) {
    super(ErrorCodes.CONFIG, message);
  }
}

const CLUSTER = /^(rediss?)-cluster:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?]+)\/?$/;
const SENTINEL =
  /^(rediss?)-sentinel:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?]+)(?:\/([^/?]*))?(?:\/(\d+))?\/?(?:\?(.*))?$/;

export function parseRedisTarget(url: string): RedisTarget {
  if (/^rediss?:\/\//.test(url)) return { kind: 'url', url };
  const c = CLUSTER.exec(url);
  if (c) {
    const [, scheme, user, password, hostList = ''] = c;
    return {
      kind: 'cluster',
      nodes: hostList.split(',').map((hp) => hostPort(hp, 6379, 'redis-cluster URL: bad node address')),
      options: {
        ...credentials(user, password),
        ...(scheme === 'rediss' ? { tls: {} } : {}),
      },
    };
  }
  const m = SENTINEL.exec(url);
  if (!m) {
    throw new RedisUrlError(
      'must be a redis://, rediss://, redis-sentinel://host:port[,host:port]/master (rediss-sentinel:// for TLS) or redis-cluster://host:port[,host:port] URL',
    );
  }
  const [, scheme, user, password, hostList = '', master, db, query] = m;
  const sentinels = hostList.split(',').map((hp) => hostPort(hp, 26379, 'redis-sentinel URL: bad sentinel address'));
  const params = new URLSearchParams(query ?? '');
  const options: RedisOptions = {
    sentinels,
    name: master ? decodeURIComponent(master) : 'mymaster',
    ...credentials(user, password),
    ...(db ? { db: Number(db) } : {}),
    ...(params.get('sentinel_password') ? { sentinelPassword: params.get('sentinel_password')! } : {}),
    ...(scheme === 'rediss' ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
  };
  return { kind: 'sentinel', options };
}

/** `host[:port]` or `[ipv6][:port]`; `problem` names what a bad one is in the error. */
function hostPort(hp: string, defaultPort: number, problem: string): { host: string; port: number } {
  const hm = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(hp.trim());
  if (!hm?.[1]) throw new RedisUrlError(`${problem} "${hp}"`);
  return { host: hm[1].replace(/^\[|\]$/g, ''), port: hm[2] ? Number(hm[2]) : defaultPort };
}

function credentials(user: string | undefined, password: string | undefined): RedisOptions {
  return {
    ...(user ? { username: decodeURIComponent(user) } : {}),
    ...(password ? { password: decodeURIComponent(password) } : {}),
  };
}
