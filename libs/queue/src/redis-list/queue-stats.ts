import type { RedisClient } from '../redis-connection.js';
import { queueKeys } from '../keys.js';
import { type QueueDepths, taskAgeSeconds } from '../task.js';

/** Point-in-time depths of a queue: what producers use for backpressure and autoscalers for scaling. */
export async function queueDepths(redis: RedisClient, queue: string, now = Date.now()): Promise<QueueDepths> {
  const k = queueKeys(queue);
  const consumers = await redis.zrange(k.consumers, 0, -1);
  const pipeline = redis
    .pipeline()
    .llen(k.pending)
    .zcard(k.delayed)
    .llen(k.failed)
    .lindex(k.pending, -1)
    .llen(k.pendingHigh)
    .lindex(k.pendingHigh, -1);
  for (const id of consumers) pipeline.llen(k.processing(id));
  const r = ((await pipeline.exec()) ?? []).map(([err, v]) => {
    if (err) throw err;
    return v;
  });
  const processing = r.slice(6).reduce<number>((n, v) => n + Number(v), 0);
  const ages = [taskAgeSeconds(r[3] as string | null, now), taskAgeSeconds(r[5] as string | null, now)].filter(
    (a) => a !== null,
  );
  return {
    pending: Number(r[0]) + Number(r[4]),
    pendingUrgent: Number(r[4]),
    delayed: Number(r[1]),
    failed: Number(r[2]),
    processing,
    consumers: consumers.length,
    oldestPendingAgeSeconds: ages.length ? Math.max(...ages) : null,
  };
}
