import { z } from 'zod';
import { QUEUE_DRIVERS } from './driver.js';
import { parseRedisTarget } from './redis-target.js';

/** A REDIS_URL that createRedis can connect with: parseRedisTarget is the one judge of what that is. */
export const redisUrl = () =>
  z
    .string()
    .superRefine((url, ctx) => {
      try {
        parseRedisTarget(url);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    })
    .default('redis://127.0.0.1:6379');

export const queueName = () =>
  z
    .string()
    .regex(/^[A-Za-z0-9_.:{}-]{1,64}$/, { error: 'may hold letters, digits and _ . : { } - (at most 64)' })
    .default('tasks');

/** The variables every producer and consumer of the queue reads (hub, processor and CLI must agree on them). */
export const QueueConfigShape = {
  REDIS_URL: redisUrl().describe(
    'Redis; an ACL user as `redis://user:pass@host:port` (tested); TLS as `rediss://user:pass@host:port` (a private CA: `NODE_EXTRA_CA_CERTS=/path/ca.pem`; tested); a Sentinel group as `redis-sentinel://[user:pass@]host:26379[,host:port…]/mymaster` (follows failovers; tested; `rediss-sentinel://` for TLS, tested); a Redis Cluster as `redis-cluster://[user:pass@]host:port[,host:port…]` (tested; `rediss-cluster://` turns TLS on, tested with an ACL user and a sharded queue)',
  ),
  QUEUE_NAME: queueName().describe(
    'queue name `q`; its keys are listed under "Wire protocol"; on a Redis Cluster it must carry a hash tag (`{tasks}`) unless sharded',
  ),
  QUEUE_DRIVER: z
    .enum(QUEUE_DRIVERS)
    .default('redis-list')
    .describe(
      '`redis-list` (our protocol) or `bullmq` (BullMQ underneath; see [the wire protocol](../libs/queue/README.md), "Queue drivers"); hub and processor must agree',
    ),
  QUEUE_SHARDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(1024)
    .default(1)
    .describe(
      'shard the queue over N queues `{q:0}`…`{q:N-1}` routed by device, so a Redis Cluster spreads it over its primaries (see [the wire protocol](../libs/queue/README.md), "Sharding one queue"); `redis-list` only; hub, processor and CLI must agree',
    ),
  REDIS_PASSWORD: z
    .string()
    .min(1)
    .optional()
    .describe(
      "the password of `REDIS_URL`'s user, kept out of the URL (from a Kubernetes Secret, say; any characters); replaces one written in the URL",
    ),
  REDIS_SENTINEL_PASSWORD: z
    .string()
    .min(1)
    .optional()
    .describe("the sentinels' own password, for a `redis-sentinel://` URL (as its `?sentinel_password=`)"),
};

/**
 * REDIS_URL with REDIS_PASSWORD and REDIS_SENTINEL_PASSWORD written into it (percent-encoded), so everything
 * downstream connects with one URL. Done on the text: a Sentinel or Cluster URL lists several hosts, which the
 * WHATWG URL parser refuses.
 */
export function redisUrlWithPasswords(c: {
  REDIS_URL: string;
  REDIS_PASSWORD?: string;
  REDIS_SENTINEL_PASSWORD?: string;
}): string {
  let url = c.REDIS_URL;
  if (c.REDIS_PASSWORD !== undefined) {
    const m = /^([a-z][a-z0-9+.-]*:\/\/)(?:([^:@/]*)(?::[^@/]*)?@)?(.*)$/i.exec(url);
    if (m) url = `${m[1]}${m[2] ?? ''}:${encodeURIComponent(c.REDIS_PASSWORD)}@${m[3]}`;
  }
  if (c.REDIS_SENTINEL_PASSWORD !== undefined) {
    const param = `sentinel_password=${encodeURIComponent(c.REDIS_SENTINEL_PASSWORD)}`;
    url = /[?&]sentinel_password=/.test(url)
      ? url.replace(/([?&])sentinel_password=[^&]*/, `$1${param}`)
      : `${url}${url.includes('?') ? '&' : '?'}${param}`;
  }
  return url;
}

/**
 * A loadConfig check. On a Redis Cluster a queue's keys must share one slot (its Lua scripts touch several at
 * once), which only a hash tag in its name guarantees: say so at start-up rather than with CROSSSLOT errors at the
 * first fetch. A sharded queue's shards carry tags of their own; sharding is the redis-list driver's.
 */
export function queueConfigProblem(c: Record<string, unknown>): string | null {
  const shards = typeof c.QUEUE_SHARDS === 'number' ? c.QUEUE_SHARDS : 1;
  if (shards > 1 && c.QUEUE_DRIVER === 'bullmq') {
    return `QUEUE_SHARDS: sharding needs QUEUE_DRIVER=redis-list (got QUEUE_SHARDS=${shards} with bullmq)`;
  }
  if (typeof c.REDIS_URL !== 'string' || typeof c.QUEUE_NAME !== 'string' || shards > 1) return null;
  if (parseRedisTarget(c.REDIS_URL).kind !== 'cluster' || /\{[^}]+\}/.test(c.QUEUE_NAME)) return null;
  return `QUEUE_NAME: on a Redis Cluster the queue name needs a hash tag, e.g. "{${c.QUEUE_NAME}}" (got "${c.QUEUE_NAME}")`;
}
