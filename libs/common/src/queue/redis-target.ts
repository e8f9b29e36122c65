import type { RedisOptions } from 'ioredis';
import { AppError, ErrorCodes } from '../errors/index.js';

/**
 * Where Redis is, from one `REDIS_URL`:
 * - `redis://[user:pass@]host:port[/db]` or `rediss://…` (TLS): one server.
 * - `redis-sentinel://[user:pass@]host:port[,host:port…][/master[/db]]`: a Sentinel group; ioredis asks the
 *   sentinels for the current primary of `master` (default `mymaster`) and follows failovers. The user and password
 *   are the Redis servers' (ACL); `?sentinel_password=` sets the sentinels' own, when they have one.
 */
export type RedisTarget = { kind: 'url'; url: string } | { kind: 'sentinel'; options: RedisOptions };

export class RedisUrlError extends AppError {
  constructor(message: string) {
    super(ErrorCodes.CONFIG, message);
  }
}

const SENTINEL = /^redis-sentinel:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?]+)(?:\/([^/?]*))?(?:\/(\d+))?\/?(?:\?(.*))?$/;

export function parseRedisTarget(url: string): RedisTarget {
  if (/^rediss?:\/\//.test(url)) return { kind: 'url', url };
  const m = SENTINEL.exec(url);
  if (!m) {
    throw new RedisUrlError('must be a redis://, rediss:// or redis-sentinel://host:port[,host:port]/master URL');
  }
  const [, user, password, hostList = '', master, db, query] = m;
  const sentinels = hostList.split(',').map((hp) => {
    const hm = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(hp.trim());
    if (!hm?.[1]) throw new RedisUrlError(`redis-sentinel URL: bad sentinel address "${hp}"`);
    return { host: hm[1].replace(/^\[|\]$/g, ''), port: hm[2] ? Number(hm[2]) : 26379 };
  });
  const params = new URLSearchParams(query ?? '');
  const options: RedisOptions = {
    sentinels,
    name: master ? decodeURIComponent(master) : 'mymaster',
    ...(user ? { username: decodeURIComponent(user) } : {}),
    ...(password ? { password: decodeURIComponent(password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(params.get('sentinel_password') ? { sentinelPassword: params.get('sentinel_password')! } : {}),
  };
  return { kind: 'sentinel', options };
}
