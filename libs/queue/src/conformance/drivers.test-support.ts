import { createRedis } from '../redis-connection.js';
import type { QueueConsumer, QueueDriverName, QueueProducer } from '../driver.js';
import { createQueueConsumer, createQueueProducer, createQueueStats, type QueueStats } from '../driver-factory.js';
import type { QueueProducerOptions } from '../task.js';
import { QueueMaintenance } from '../redis-list/maintenance.js';
import { shardQueueNames } from '../sharding/shard-routing.js';

export interface ConsumerSpec {
  leaseMs?: number;
  /** How long a fetch may wait on an empty queue (BullMQ fixes it per consumer). */
  blockMs?: number;
}

/**
 * One driver as the conformance suite (and its child processes) drive it: a producer, consumers, and the
 * housekeeping the driver needs running (returning dead consumers' tasks, promoting due retries). Every object
 * made is closed by close(). Tests only.
 */
export interface DriverUnderTest {
  readonly name: QueueDriverName;
  /** QUEUE_SHARDS: 1, or a sharded redis-list queue. */
  readonly shards: number;
  producer(queue: string, opts?: QueueProducerOptions): QueueProducer;
  consumer(queue: string, opts?: ConsumerSpec): QueueConsumer;
  /** Starts the driver's housekeeping for a queue (the reaper and retry promotion of redis-list; BullMQ's own
   * stalled check runs inside its consumers, started with their heartbeat). */
  housekeeping(queue: string): void;
  /** The queue's depths as metrics and `queue stats` read them for this driver. */
  stats(queue: string): QueueStats;
  close(): Promise<void>;
}

export function driverUnderTest(name: QueueDriverName, url: string, shards = 1): DriverUnderTest {
  const closers: Array<() => Promise<unknown> | void> = [];
  // The same construction the apps use (driver-factory.ts), so the suite tests what runs.
  const shared = createRedis(url, name === 'bullmq' ? { bullmq: true } : {});
  closers.push(() => shared.disconnect());
  return {
    name,
    shards,
    producer(queue, opts) {
      const p = createQueueProducer(name, shared, queue, { ...opts, shards });
      if (p.close) closers.unshift(() => p.close!());
      return p;
    },
    consumer(queue, opts = {}) {
      const { consumer, connection } = createQueueConsumer(name, {
        redis: shared,
        redisUrl: url,
        queue,
        leaseMs: opts.leaseMs ?? 30_000,
        blockMs: opts.blockMs ?? 200,
        shards,
      });
      closers.unshift(() => connection.disconnect());
      if (consumer.close) closers.unshift(() => consumer.close!());
      return consumer;
    },
    stats(queue) {
      const s = createQueueStats(name, shared, queue, shards);
      closers.unshift(() => s.close());
      return s;
    },
    housekeeping(queue) {
      if (name !== 'redis-list') return;
      const m = new QueueMaintenance(shared, shardQueueNames(queue, shards), {}, { intervalMs: 50 });
      m.start();
      closers.unshift(() => m.stop());
    },
    async close() {
      for (const close of closers.splice(0)) await close();
    },
  };
}
