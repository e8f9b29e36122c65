import type { RedisClient } from '../redis-connection.js';
import { queueDepths } from '../redis-list/queue-stats.js';
import { type QueueDepths } from '../task.js';

/**
 * The depths of a sharded queue as one queue: counts summed over the shards, the oldest pending age the oldest
 * of any shard (what an autoscaler should see), consumers the most any shard has (every consumer serves all shards).
 */
export async function shardedQueueDepths(
  redis: RedisClient,
  queues: readonly string[],
  now = Date.now(),
): Promise<QueueDepths> {
  const all = await Promise.all(queues.map((q) => queueDepths(redis, q, now)));
  const ages = all.map((d) => d.oldestPendingAgeSeconds).filter((a) => a !== null);
  const sum = (pick: (d: QueueDepths) => number) => all.reduce((n, d) => n + pick(d), 0);
  return {
    pending: sum((d) => d.pending),
    pendingUrgent: sum((d) => d.pendingUrgent),
    processing: sum((d) => d.processing),
    delayed: sum((d) => d.delayed),
    failed: sum((d) => d.failed),
    consumers: Math.max(0, ...all.map((d) => d.consumers)),
    oldestPendingAgeSeconds: ages.length ? Math.max(...ages) : null,
  };
}
