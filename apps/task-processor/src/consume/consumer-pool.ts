import type { Logger } from 'pino';
import { createQueueConsumer, type QueueDriverName, type RedisClient } from '@telemetryhub/queue';
import type { HandlerRegistry } from '../handlers/index.js';
import type { ProcessorMetrics } from '../metrics/processor-metrics.js';
import { classifyDbError } from '../store/pg-errors.js';
import { ConsumerLoop } from './consumer-loop.js';
import { TaskRunner } from './task-runner.js';
import type { TaskDecodePool } from '../decode/decode-pool.js';

export interface ConsumerPoolOptions {
  /** Shared connection for scripts and acks. */
  redis: RedisClient;
  /** Each loop opens its own connection to this URL (a BLMOVE holds one; BullMQ wants its own). */
  redisUrl: string;
  queue: string;
  /** QUEUE_DRIVER; default redis-list. */
  driver?: QueueDriverName;
  /** QUEUE_SHARDS: each loop serves every shard. Default 1. */
  shards?: number;
  concurrency: number;
  leaseMs: number;
  batchSize: number;
  blockMs: number;
  handlers: HandlerRegistry;
  metrics: ProcessorMetrics;
  log: Logger;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Shared by every loop: decoding (parse, validate, pseudonymise) runs in its worker threads. */
  decoder: TaskDecodePool;
  /** Tracing is on: every batch gets its spans. */
  traced?: boolean;
}

/**
 * The processor's consumers: `concurrency` loops, each its own consumer (own processing list, lease and
 * blocking connection) sharing one handler registry. What main.ts runs and what the processor benchmark measures.
 */
export class ConsumerPool {
  private readonly loops: ConsumerLoop[] = [];
  private readonly connections: RedisClient[] = [];
  private readonly consumers: Array<{ close?: () => Promise<void> }> = [];

  constructor(o: ConsumerPoolOptions) {
    for (let i = 0; i < o.concurrency; i++) {
      const { consumer, connection } = createQueueConsumer(o.driver ?? 'redis-list', {
        redis: o.redis,
        redisUrl: o.redisUrl,
        queue: o.queue,
        leaseMs: o.leaseMs,
        blockMs: o.blockMs,
        log: o.log,
        shards: o.shards ?? 1,
      });
      this.connections.push(connection);
      this.consumers.push(consumer);
      const runner = new TaskRunner({
        consumer,
        handlers: o.handlers,
        metrics: o.metrics,
        log: o.log.child({ component: 'runner', consumerId: consumer.consumerId }),
        classify: classifyDbError,
        maxAttempts: o.maxAttempts,
        retryBaseMs: o.retryBaseMs,
        retryMaxMs: o.retryMaxMs,
        decoder: o.decoder,
        ...(o.traced ? { trace: { queue: o.queue } } : {}),
      });
      this.loops.push(
        new ConsumerLoop({
          consumer,
          runner,
          metrics: o.metrics,
          log: o.log.child({ component: 'consumer', consumerId: consumer.consumerId }),
          batchSize: o.batchSize,
          blockMs: o.blockMs,
        }),
      );
    }
  }

  start(): void {
    for (const loop of this.loops) loop.start();
  }

  /** Stops every loop (each finishes its batch and returns what it could not settle). */
  async stop(): Promise<void> {
    await Promise.all(this.loops.map((loop) => loop.stop()));
  }

  /** Closes the consumers' own connections (after stop()). */
  async close(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.close?.()));
    await Promise.all(this.connections.map((c) => c.quit().catch(() => c.disconnect())));
  }
}
