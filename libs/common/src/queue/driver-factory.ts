import type { RedisClient } from './redis-connection.js';
import type { Logger } from 'pino';
import { briefError } from '../log/index.js';
import { createRedis } from './redis-connection.js';
import type { QueueConsumer, QueueDriverName, QueueProducer } from './driver.js';
import { TaskProducer, type TaskProducerOptions } from './redis-list/producer.js';
import { ReliableConsumer } from './redis-list/consumer.js';
import { BullmqProducer } from './bullmq/producer.js';
import { BullmqConsumer } from './bullmq/consumer.js';
import { BullmqQueueStats } from './bullmq/queue-stats.js';
import { queueDepths, type QueueDepths } from './redis-list/queue-stats.js';

/** A queue's depths, whichever driver carries it (metrics, autoscaling, `queue stats`). */
export interface QueueStats {
  depths(now?: number): Promise<QueueDepths>;
  close(): Promise<void>;
}

/** The depths reader of the chosen driver on an existing connection. */
export function createQueueStats(driver: QueueDriverName, redis: RedisClient, queue: string): QueueStats {
  if (driver === 'bullmq') return new BullmqQueueStats(redis, queue);
  return { depths: (now) => queueDepths(redis, queue, now), close: async () => {} };
}

/** The producer of the chosen driver (QUEUE_DRIVER) on an existing connection. */
export function createQueueProducer(
  driver: QueueDriverName,
  redis: RedisClient,
  queue: string,
  opts: TaskProducerOptions = {},
): QueueProducer {
  return driver === 'bullmq' ? new BullmqProducer(redis, queue, opts) : new TaskProducer(redis, queue, opts);
}

/** A consumer of the chosen driver with the connection it needs of its own, and how to release it. */
export function createQueueConsumer(
  driver: QueueDriverName,
  o: { redis: RedisClient; redisUrl: string; queue: string; leaseMs: number; blockMs: number; log?: Logger },
): { consumer: QueueConsumer; connection: RedisClient } {
  if (driver === 'bullmq') {
    // BullMQ needs a connection without a retry limit per request; it opens its own blocking one beside it.
    const connection = createRedis(o.redisUrl, { name: 'task-processor-bullmq', bullmq: true, ...logOpt(o.log) });
    const consumer = new BullmqConsumer(connection, o.queue, {
      leaseMs: o.leaseMs,
      blockMs: o.blockMs,
      onError: (err) => o.log?.warn({ err: briefError(err) }, 'bullmq worker error'),
    });
    return { consumer, connection };
  }
  // A BLMOVE holds its connection: each consumer has its own for that, scripts share `redis`.
  const connection = createRedis(o.redisUrl, { name: 'task-processor-fetch', blocking: true, ...logOpt(o.log) });
  return { consumer: new ReliableConsumer(o.redis, connection, o.queue, { leaseMs: o.leaseMs }), connection };
}

const logOpt = (log: Logger | undefined) => (log ? { log } : {});
