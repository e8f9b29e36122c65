/**
 * The processor as main.ts builds it (buildProcessor), over a throwaway stack, for the processor benchmarks.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';
import { createMetricsRegistry } from '@telemetryhub/service-kit';
import { type Reading } from '@telemetryhub/schemas';
import { createRedis, type RedisClient } from '@telemetryhub/queue';
import { startStack, type LocalStack } from '@telemetryhub/testkit';
import { createPgPool } from '../apps/task-processor/src/store/pool.js';
import { migrate } from '@telemetryhub/migrations';
import type { ProcessorMetrics } from '../apps/task-processor/src/metrics/processor-metrics.js';
import type { TaskHandler } from '../apps/task-processor/src/handlers/index.js';
import type { ConsumerPool } from '../apps/task-processor/src/consume/consumer-pool.js';
import type { TaskDecodePool } from '../apps/task-processor/src/decode/decode-pool.js';
import type { DeferredFold } from '../apps/task-processor/src/fold/deferred-fold.js';
import { loadProcessorConfig, type ProcessorConfig } from '../apps/task-processor/src/config.js';
import { buildProcessor, type Processor } from '../apps/task-processor/src/build.js';

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
  consumers: ConsumerPool;
  /** Folds rollups, outliers and devices once a second (started; its timers do not hold the process). */
  fold: DeferredFold;
  decoder: TaskDecodePool;
  metrics: ProcessorMetrics;
}

/**
 * The processor exactly as `npm run processor` builds it (buildProcessor: every handler, the latest-value cache,
 * statistics, devices, outliers, the deferred fold, its own PostgreSQL pool of PG_POOL_MAX), from the default
 * configuration with the benchmark's knobs; started up (threads up, modules loaded, folding) but not yet
 * consuming. `wrap` may decorate the telemetry handler (to time it). Closed with the bench stack.
 */
export async function createBenchProcessor(
  env: BenchStack,
  opts: {
    queue: string;
    loops: number;
    threads: number;
    /** Tasks per fetch (FETCH_BATCH_SIZE). */
    fetch: number;
    /** More of the processor's settings (FOLD_INTERVAL_MS…), validated as the processor validates them. */
    settings?: Readonly<Record<string, string>>;
    log: Logger;
    wrap?: (handler: TaskHandler) => TaskHandler;
  },
): Promise<BenchProcessor> {
  const config: ProcessorConfig = loadProcessorConfig({
    env: {
      REDIS_URL: env.stack.redis.url,
      DATABASE_URL: env.stack.postgres.url,
      QUEUE_NAME: opts.queue,
      CONSUMER_CONCURRENCY: String(opts.loops),
      WORKER_THREADS: String(opts.threads),
      FETCH_BATCH_SIZE: String(opts.fetch),
      FETCH_BLOCK_MS: '100',
      MIGRATE_ON_START: 'false',
      ...opts.settings,
    },
  });
  const registry = createMetricsRegistry({
    service: 'telemetryhub-task-processor',
    version: 'bench',
    defaultMetrics: false,
  });
  const processor = buildProcessor(config, {
    log: opts.log,
    registry,
    ...(opts.wrap ? { instrument: opts.wrap } : {}),
  });
  env.track(processor);
  await processor.decoder.decode(Array.from({ length: opts.threads * 2 }, () => '{}'));
  processor.fold.start();
  return processor;
}

export interface BenchStack {
  stack: LocalStack;
  pool: pg.Pool;
  redis: RedisClient;
  /** Shuts this processor down (its shutdown steps) before the stack stops. */
  track(processor: Processor): void;
  close(): Promise<void>;
}

/**
 * Throwaway Redis and PostgreSQL (migrated), with the connections a benchmark needs; close() stops it all.
 * PostgreSQL keeps its default durability (fsync, synchronous commit, full-page writes), as users run it, unless
 * `fastPostgres` trades it for speed as the tests do.
 */
export async function startBenchStack(log: Logger, opts: { fastPostgres?: boolean } = {}): Promise<BenchStack> {
  const stack = await startStack({ postgres: { durable: !opts.fastPostgres } });
  const pool = createPgPool(stack.postgres.url, { max: 8, statementTimeoutMs: 60_000 }, log);
  const redis = createRedis(stack.redis.url, { commandTimeoutMs: 60_000 });
  const processors: Processor[] = [];
  const close = async () => {
    redis.disconnect();
    for (const p of processors) for (const step of p.shutdownSteps()) await step.run();
    await pool.end();
    await stack.stop();
  };
  try {
    await migrate(pool, log);
  } catch (err) {
    await close();
    throw err;
  }
  return { stack, pool, redis, track: (p) => processors.push(p), close };
}
