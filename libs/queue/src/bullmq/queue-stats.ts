import { Queue } from 'bullmq';
import type { RedisClient } from '../redis-connection.js';
import { queueKeys } from '../keys.js';
import { taskAgeSeconds, type QueueDepths } from '../task.js';
import { BULLMQ_PRIORITY, type BullmqTaskData } from './job-options.js';

/** BullMQ scores a prioritized job priority × 2³² + a counter: one score range per priority (its "lane"). */
const LANE = 0x100000000;
const lane = (priority: number) => [priority * LANE, (priority + 1) * LANE - 1] as const;

/**
 * Depths of a queue that BullMQ carries, in the redis-list driver's terms (queueDepths), so that the same metrics,
 * autoscaling and `queue stats` work on either driver. Every job of ours has a priority (job-options.ts), so
 * pending = BullMQ's prioritized set (+ wait, should anything else add jobs); processing = active;
 * delayed = retries waiting for their time; failed = our DLQ list; consumers = BullMQ's workers.
 */
export class BullmqQueueStats {
  private readonly bull: Queue<BullmqTaskData>;

  constructor(
    private readonly redis: RedisClient,
    readonly queue: string,
  ) {
    this.bull = new Queue<BullmqTaskData>(queue, { connection: redis });
  }

  async depths(now = Date.now()): Promise<QueueDepths> {
    const [counts, pendingUrgent, failed, consumers, oldestUrgent, oldestNormal] = await Promise.all([
      this.bull.getJobCounts('wait', 'prioritized', 'active', 'delayed'),
      this.redis.zcount(this.bull.keys.prioritized!, ...lane(BULLMQ_PRIORITY.urgent)),
      this.redis.llen(queueKeys(this.queue).failed),
      this.bull.getWorkersCount(),
      this.oldestAgeSeconds(BULLMQ_PRIORITY.urgent, now),
      this.oldestAgeSeconds(BULLMQ_PRIORITY.normal, now),
    ]);
    const ages = [oldestUrgent, oldestNormal].filter((a) => a !== null);
    return {
      pending: (counts.wait ?? 0) + (counts.prioritized ?? 0),
      pendingUrgent,
      processing: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      failed,
      consumers,
      oldestPendingAgeSeconds: ages.length ? Math.max(...ages) : null,
    };
  }

  close(): Promise<void> {
    return this.bull.close();
  }

  /** Age of the oldest pending job of a priority (the first of its lane: FIFO within a priority), by created_at. */
  private async oldestAgeSeconds(priority: number, now: number): Promise<number | null> {
    const [id] = await this.redis.zrangebyscore(this.bull.keys.prioritized!, ...lane(priority), 'LIMIT', 0, 1);
    if (id === undefined) return null;
    const data = await this.redis.hget(this.bull.toKey(id), 'data');
    if (!data) return null;
    try {
      return taskAgeSeconds((JSON.parse(data) as BullmqTaskData).raw, now);
    } catch {
      return null;
    }
  }
}
