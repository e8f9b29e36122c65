import type { RedisClient } from './redis-connection.js';
import type { Logger } from 'pino';
import { briefError } from '@telemetryhub/service-kit';
import { createRedis } from './redis-connection.js';
import type { QueueConsumer, QueueDriverName, QueueProducer } from './driver.js';
import { RedisListProducer } from './redis-list/producer.js';
import { type QueueProducerOptions } from './task.js';
import { ReliableConsumer } from './redis-list/consumer.js';
import { BullmqProducer } from './bullmq/producer.js';
import { BullmqConsumer } from './bullmq/consumer.js';
import { BullmqQueueStats } from './bullmq/queue-stats.js';
import { queueDepths } from './redis-list/queue-stats.js';
import { type QueueDepths } from './task.js';
import { ShardedProducer } from './sharding/sharded-producer.js';
import { ShardedConsumer } from './sharding/sharded-consumer.js';
import { shardedQueueDepths } from './sharding/sharded-queue-stats.js';
import { shardQueueNames } from './sharding/shard-routing.js';
import { ShardedDeadLetterQueue, type DeadLetterAdmin } from './sharding/sharded-dead-letter-queue.js';
import { DeadLetterQueue } from './redis-list/dead-letter-queue.js';

/** A queue's depths, whichever driver carries it (metrics, autoscaling, `queue stats`). */
export interface QueueStats {
  depths(now?: number): Promise<QueueDepths>;
  close(): Promise<void>;
}

/**
 * The depths reader of the chosen driver on an existing connection. `shards` (QUEUE_SHARDS, redis-list only):
 * the queue is sharded over that many queues (sharding/shard-routing.ts), read as one.
 */
export function createQueueStats(driver: QueueDriverName, redis: RedisClient, queue: string, shards = 1): QueueStats {
  if (driver === 'bullmq') return new BullmqQueueStats(redis, queue);
  const queues = shardQueueNames(queue, shards);
  const depths = (now?: number) =>
    shards > 1 ? shardedQueueDepths(redis, queues, now) : queueDepths(redis, queue, now);
  return { depths, close: async () => {} };
}

/** The producer of the chosen driver (QUEUE_DRIVER) on an existing connection; sharded with `shards` > 1. */
export function createQueueProducer(
  driver: QueueDriverName,
  redis: RedisClient,
  queue: string,
  opts: QueueProducerOptions & { shards?: number } = {},
): QueueProducer {
  const { shards = 1, ...producerOpts } = opts;
  if (driver === 'bullmq') return new BullmqProducer(redis, queue, producerOpts);
  if (shards > 1) return new ShardedProducer(redis, queue, shards, producerOpts);
  return new RedisListProducer(redis, queue, producerOpts);
}

/** The dead-letter admin of a queue (redis-list; `replayTo` for a BullMQ queue), sharded with `shards` > 1. */
export function createDeadLetterAdmin(
  redis: RedisClient,
  queue: string,
  o: { shards?: number; replayTo?: QueueProducer } = {},
): DeadLetterAdmin {
  if ((o.shards ?? 1) > 1) return new ShardedDeadLetterQueue(redis, shardQueueNames(queue, o.shards!));
  return new DeadLetterQueue(redis, queue, o.replayTo);
}

/** A consumer of the chosen driver with the connection it needs of its own, and how to release it. */
export function createQueueConsumer(
  driver: QueueDriverName,
  o: {
    redis: RedisClient;
    redisUrl: string;
    queue: string;
    leaseMs: number;
    blockMs: number;
    log?: Logger;
    /** QUEUE_SHARDS (redis-list only): one consumer serves every shard. */
    shards?: number;
  },
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
  const consumer =
    (o.shards ?? 1) > 1
      ? new ShardedConsumer(o.redis, connection, shardQueueNames(o.queue, o.shards!), { leaseMs: o.leaseMs })
      : new ReliableConsumer(o.redis, connection, o.queue, { leaseMs: o.leaseMs });
  return { consumer, connection };
}

const logOpt = (log: Logger | undefined) => (log ? { log } : {});
