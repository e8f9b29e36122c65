import type { Redis } from 'ioredis';
import { queueKeys } from '../keys.js';

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
export async function queueDepths(redis: Redis, queue: string, now = Date.now()): Promise<QueueDepths> {
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
  const ages = [ageOf(r[3] as string | null, now), ageOf(r[5] as string | null, now)].filter((a) => a !== null);
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

function ageOf(raw: string | null, now: number): number | null {
  if (!raw) return null;
  try {
    const created = (JSON.parse(raw) as { created_at?: unknown }).created_at;
    const ms = typeof created === 'number' ? (created < 1e11 ? created * 1000 : created) : Date.parse(String(created));
    return Number.isFinite(ms) ? Math.max(0, (now - ms) / 1000) : null;
  } catch {
    return null;
  }
}
