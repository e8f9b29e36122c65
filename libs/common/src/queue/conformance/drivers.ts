import type { Redis } from 'ioredis';
import { createRedis } from '../redis-connection.js';
import type { QueueConsumer, QueueDriverName, QueueProducer } from '../driver.js';
import { TaskProducer, type TaskProducerOptions } from '../redis-list/producer.js';
import { ReliableConsumer } from '../redis-list/consumer.js';
import { QueueMaintenance } from '../redis-list/maintenance.js';
import { BullmqProducer } from '../bullmq/producer.js';
import { BullmqConsumer } from '../bullmq/consumer.js';

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
  producer(queue: string, opts?: TaskProducerOptions): QueueProducer;
  consumer(queue: string, opts?: ConsumerSpec): QueueConsumer;
  /** Starts the driver's housekeeping for a queue (the reaper and retry promotion of redis-list; BullMQ's own
   * stalled check runs inside its consumers, started with their heartbeat). */
  housekeeping(queue: string): void;
  close(): Promise<void>;
}

export function driverUnderTest(name: QueueDriverName, url: string): DriverUnderTest {
  const closers: Array<() => Promise<unknown> | void> = [];
  const connection = (opts: Parameters<typeof createRedis>[1] = {}): Redis => {
    const c = createRedis(url, opts);
    closers.push(() => c.disconnect());
    return c;
  };
  const shared = connection(name === 'bullmq' ? { bullmq: true } : {});
  return {
    name,
    producer(queue, opts) {
      if (name === 'redis-list') return new TaskProducer(shared, queue, opts);
      const p = new BullmqProducer(shared, queue, opts);
      closers.unshift(() => p.close());
      return p;
    },
    consumer(queue, opts = {}) {
      const leaseMs = opts.leaseMs ?? 30_000;
      if (name === 'redis-list') {
        return new ReliableConsumer(shared, connection({ blocking: true }), queue, { leaseMs });
      }
      const c = new BullmqConsumer(shared, queue, { leaseMs, blockMs: opts.blockMs ?? 200 });
      closers.unshift(() => c.close());
      return c;
    },
    housekeeping(queue) {
      if (name !== 'redis-list') return;
      const m = new QueueMaintenance(shared, queue, {}, { intervalMs: 50 });
      m.start();
      closers.unshift(() => m.stop());
    },
    async close() {
      for (const close of closers.splice(0)) await close();
    },
  };
}
