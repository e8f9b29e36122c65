import type { RedisClient } from '../redis-connection.js';
import { queueKeys } from '../keys.js';
import { InstantSchema } from '@telemetryhub/schemas';

export interface QueueDepths {
  /** Waiting in both lanes. */
  pending: number;
  /** Of which in the urgent lane. */
  pendingUrgent: number;
  processing: number;
  delayed: number;
  failed: number;
  consumers: number;
  /** Age of the oldest pending task by its created_at (s), or null when empty or unreadable. */
  oldestPendingAgeSeconds: number | null;
}

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

/** Age of a raw task by its created_at, read by the envelope's own rule for times (InstantSchema). */
export function taskAgeSeconds(raw: string | null, now: number): number | null {
  if (!raw) return null;
  let createdAt: unknown;
  try {
    createdAt = (JSON.parse(raw) as { created_at?: unknown }).created_at;
  } catch {
    return null;
  }
  const instant = InstantSchema.safeParse(createdAt);
  return instant.success ? Math.max(0, (now - Date.parse(instant.data)) / 1000) : null;
}
