/**
 * The processor as main.ts runs it (consumer group, decode pool, telemetry handler with threshold rules,
 * statistical outliers and the deferred fold), built over a throwaway stack for the processor benchmarks.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';
import { createMetricsRegistry } from '@telemetryhub/service-kit';
import { type Reading } from '@telemetryhub/schemas';
import { createRedis, type RedisClient } from '@telemetryhub/queue';
import { startStack, type LocalStack } from '@telemetryhub/testkit';
import { createPgPool } from '../apps/task-processor/src/store/pool.js';
import { migrate } from '../apps/task-processor/src/store/migrate.js';
import { createProcessorMetrics, type ProcessorMetrics } from '../apps/task-processor/src/metrics/processor-metrics.js';
import {
  HandlerRegistry,
  TELEMETRY_TASK_TYPES,
  createTelemetryHandler,
  type TaskHandler,
} from '../apps/task-processor/src/handlers/index.js';
import { ConsumerGroup } from '../apps/task-processor/src/consume/consumer-group.js';
import { createDecodePool, type TaskDecodePool } from '../apps/task-processor/src/decode/decode-pool.js';
import { DEFAULT_OUTLIER_CONFIG } from '../apps/task-processor/src/outliers/outlier-rules.js';
import { DeferredFold } from '../apps/task-processor/src/fold/deferred-fold.js';
import { PartitionManager } from '../apps/task-processor/src/store/partitions.js';

const METRICS = ['temperature', 'humidity', 'pressure', 'voltage', 'current'];
/** The benchmarks' default fleet: 1,000 devices × 5 metrics, as the end-to-end benchmark's. */
export const DEFAULT_SERIES = 5000;

/**
 * The i-th benchmark reading of a fleet of `series` series (devices × 5 metrics; consecutive readings are of
 * different devices, as a fleet reporting together sends them), at `eventMs`, with a random event id.
 */
export function benchReading(i: number, eventMs: number, series = DEFAULT_SERIES): Reading {
  const devices = Math.max(1, Math.round(series / METRICS.length));
  return {
    event_id: randomUUID(),
    device_id: `bench-${i % devices}`,
    metric: METRICS[Math.floor(i / devices) % METRICS.length]!,
    event_time: new Date(eventMs).toISOString(),
    value: 20 + (i % 97) / 10,
    unit: null,
    site: 'bench',
    region: 'bench',
    firmware: '1.0.0',
    schema_version: 3,
    sequence_id: i,
  };
}

export interface BenchProcessor {
  consumers: ConsumerGroup;
  /** Folds rollups, outliers and devices once a second (started; its timers do not hold the process). */
  fold: DeferredFold;
  decoder: TaskDecodePool;
  metrics: ProcessorMetrics;
}

/**
 * A started-up (threads up, modules loaded) but not yet consuming processor on `queue`. `wrap` may decorate the
 * telemetry handler (to time it). Otherwise as config.ts's defaults.
 */
export async function createBenchProcessor(opts: {
  redis: RedisClient;
  redisUrl: string;
  pool: pg.Pool;
  queue: string;
  loops: number;
  threads: number;
  /** Tasks per fetch (FETCH_BATCH_SIZE). */
  fetch: number;
  log: Logger;
  lateHorizonMs?: number;
  wrap?: (handler: TaskHandler) => TaskHandler;
}): Promise<BenchProcessor> {
  const decoder = createDecodePool({ threads: opts.threads });
  await decoder.decode(Array.from({ length: opts.threads * 2 }, () => '{}'));
  const metrics = createProcessorMetrics(
    createMetricsRegistry({ prefix: 'taskproc', version: 'bench', defaultMetrics: false }),
  );
  const fold = new DeferredFold({
    pool: opts.pool,
    partitions: new PartitionManager(opts.pool),
    metrics,
    log: opts.log,
    settings: { outliers: DEFAULT_OUTLIER_CONFIG },
  });
  fold.start();
  const handler = createTelemetryHandler({
    pool: opts.pool,
    metrics,
    log: opts.log,
    outliers: DEFAULT_OUTLIER_CONFIG,
    fold,
    ...(opts.lateHorizonMs === undefined ? {} : { lateHorizonMs: opts.lateHorizonMs }),
  });
  const handlers = new HandlerRegistry().register(TELEMETRY_TASK_TYPES, opts.wrap ? opts.wrap(handler) : handler);
  const consumers = new ConsumerGroup({
    redis: opts.redis,
    redisUrl: opts.redisUrl,
    queue: opts.queue,
    concurrency: opts.loops,
    leaseMs: 30_000,
    batchSize: opts.fetch,
    blockMs: 100,
    handlers,
    metrics,
    log: opts.log,
    maxAttempts: 5,
    retryBaseMs: 100,
    retryMaxMs: 1000,
    decoder,
  });
  return { consumers, fold, decoder, metrics };
}

export interface BenchStack {
  stack: LocalStack;
  pool: pg.Pool;
  redis: RedisClient;
  /** Closes this consumer group with the stack. */
  track(group: ConsumerGroup): void;
  close(): Promise<void>;
}

/** Throwaway Redis and PostgreSQL (migrated), with the connections a benchmark needs; close() stops it all. */
export async function startBenchStack(log: Logger): Promise<BenchStack> {
  const stack = await startStack();
  const pool = createPgPool(stack.postgres.url, { max: 8, statementTimeoutMs: 60_000 }, log);
  const redis = createRedis(stack.redis.url, { commandTimeoutMs: 60_000 });
  const groups: ConsumerGroup[] = [];
  const close = async () => {
    redis.disconnect();
    for (const g of groups) await g.close();
    await pool.end();
    await stack.stop();
  };
  try {
    await migrate(pool, log);
  } catch (err) {
    await close();
    throw err;
  }
  return { stack, pool, redis, track: (g) => groups.push(g), close };
}
