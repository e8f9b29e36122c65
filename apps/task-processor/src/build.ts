import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Readiness, briefError, keepAliveBeyondProxies, sleep, type ShutdownStep } from '@telemetryhub/service-kit';
import {
  QueueMaintenance,
  createDeadLetterAdmin,
  createQueueProducer,
  createQueueStats,
  createRedis,
  registerQueueMetrics,
  shardQueueNames,
  type QueueStats,
  type RedisClient,
} from '@telemetryhub/queue';
import type { ProcessorConfig } from './config.js';
import { createProcessorMetrics, registerPoolGauge, type ProcessorMetrics } from './metrics/processor-metrics.js';
import type { DevicePseudonymizer } from './privacy/device-pseudonymizer.js';
import { createPgPool } from './store/pool.js';
import { migrate } from '@telemetryhub/migrations';
import { LatestCache } from './store/latest.cache.js';
import { PartitionManager } from './store/partitions.js';
import { PartitionUpkeep, partitionMetrics } from './store/partition-upkeep.js';
import { RollupSealer } from './store/rollup-sealer.js';
import { DEFAULT_RETENTION } from './store/retention.js';
import type { ThresholdRule } from './alerts/alert-rules.js';
import { WebhookDispatcher } from './alerts/webhook-dispatcher.js';
import type { OutlierConfig } from './outliers/outlier-rules.js';
import { EventTimeWatermarks } from './late/event-time-watermark.js';
import { ExpiredReplayer } from './expired/expired-replay.js';
import { applyDeviceMetadata, type DeviceMetadata } from './devices/devices.repo.js';
import { DeferredFold } from './fold/deferred-fold.js';
import { createDecodePool, type TaskDecodePool } from './decode/decode-pool.js';
import { HandlerRegistry, TELEMETRY_TASK_TYPES, createTelemetryHandler, type TaskHandler } from './handlers/index.js';
import { ConsumerPool } from './consume/consumer-pool.js';
import { createApp, createStartingApp } from './app.js';

/** What the processor reads from files at start-up (validated before anything connects). */
export interface ProcessorFiles {
  pseudonymizer?: DevicePseudonymizer;
  /** Threshold rules (ALERT_RULES_FILE); absent: the handler's defaults. */
  rules?: ThresholdRule[];
  deviceMetadata?: DeviceMetadata[];
}

/** The processor's parts, wired as `npm run processor` runs them. */
export interface Processor {
  metrics: ProcessorMetrics;
  pool: pg.Pool;
  redis: RedisClient;
  readiness: Readiness;
  fold: DeferredFold;
  consumers: ConsumerPool;
  decoder: TaskDecodePool;
  queueStats: QueueStats;
  /**
   * Listens on PROCESSOR_PORT at once (/health answers while it waits), waits for PostgreSQL, migrates, applies
   * the device metadata, then serves the full API and starts consuming.
   */
  start(): Promise<Server>;
  /** What SIGTERM runs, in order: stop taking tasks, finish and fold what is held, close connections. */
  shutdownSteps(): ShutdownStep[];
}

/** Builds the task-processor; nothing connects to PostgreSQL or takes a task until `start()`. */
export function buildProcessor(
  config: ProcessorConfig,
  deps: {
    log: Logger;
    registry: Registry;
    files?: ProcessorFiles;
    /** Decorates the telemetry handler the consumers run (benchmarks time it this way); the default is none. */
    instrument?: (handler: TaskHandler) => TaskHandler;
    /** Tracing is on (startTracing): batches and commits become spans. */
    traced?: boolean;
  },
): Processor {
  const { log, registry } = deps;
  const { pseudonymizer, rules, deviceMetadata = [] } = deps.files ?? {};
  const metrics = createProcessorMetrics(registry);
  const pool = createPgPool(
    config.DATABASE_URL,
    { max: config.PG_POOL_MAX, statementTimeoutMs: config.PG_STATEMENT_TIMEOUT_MS },
    log.child({ component: 'pg' }),
  );
  registerPoolGauge(registry, pool);

  const redis = createRedis(config.REDIS_URL, { name: 'task-processor', log: log.child({ component: 'redis' }) });
  const maintenance = new QueueMaintenance(redis, shardQueueNames(config.QUEUE_NAME, config.QUEUE_SHARDS), {
    onReaped: (deadConsumer, tasks) => {
      metrics.reapedTasks.inc(tasks);
      log.warn({ deadConsumer, tasks }, 'returned the tasks of a consumer whose lease expired');
    },
    onError: (err) => log.warn({ err: briefError(err) }, 'queue maintenance failed; will retry'),
  });
  const queueStats = createQueueStats(config.QUEUE_DRIVER, redis, config.QUEUE_NAME, config.QUEUE_SHARDS);
  registerQueueMetrics(registry, queueStats, config.QUEUE_NAME);

  const latest = new LatestCache(redis, log.child({ component: 'latest' }));
  const partitions = new PartitionManager(pool, partitionMetrics(metrics));
  const upkeep = new PartitionUpkeep({
    pool,
    partitions,
    policy: {
      rawDays: config.RAW_RETENTION_DAYS,
      rollupDays: config.ROLLUP_RETENTION_DAYS,
      aheadDays: config.PARTITION_AHEAD_DAYS,
      dropLockTimeoutMs: DEFAULT_RETENTION.dropLockTimeoutMs,
    },
    intervalMs: config.PARTITION_UPKEEP_INTERVAL_SECONDS * 1000,
    metrics,
    log: log.child({ component: 'partitions' }),
  });
  const sealer = new RollupSealer({ pool, partitions, metrics, log: log.child({ component: 'rollup-seal' }) });
  const outliers: OutlierConfig | undefined =
    config.OUTLIER_Z_SCORE > 0
      ? {
          z: config.OUTLIER_Z_SCORE,
          resolveZ: config.OUTLIER_RESOLVE_Z_SCORE,
          alpha: config.OUTLIER_ALPHA,
          minSamples: config.OUTLIER_MIN_SAMPLES,
        }
      : undefined;
  const fold = new DeferredFold({
    pool,
    partitions,
    metrics,
    log: log.child({ component: 'fold' }),
    settings: { ...(outliers ? { outliers } : {}), webhookUrls: config.ALERT_WEBHOOK_URLS },
    latest,
    options: {
      intervalMs: config.FOLD_INTERVAL_MS,
      maxDelayMs: config.FOLD_MAX_DELAY_MS,
      readingsPerRow: config.FOLD_READINGS_PER_ROW,
      orphanAfterMs: config.FOLD_ORPHAN_AFTER_MS,
      maxReadings: config.FOLD_MAX_READINGS,
    },
  });
  const telemetryDeps: Parameters<typeof createTelemetryHandler>[0] = {
    pool,
    metrics,
    partitions,
    watermarks: new EventTimeWatermarks(config.ALLOWED_LATENESS_MS),
    expiryHorizonMs: (config.EXPIRY_HORIZON_DAYS ?? config.RAW_RETENTION_DAYS) * 86_400_000,
    webhookUrls: config.ALERT_WEBHOOK_URLS,
    ...(rules ? { rules } : {}),
    ...(outliers ? { outliers } : {}),
    fold,
    log: log.child({ component: 'telemetry' }),
  };
  const telemetry = createTelemetryHandler(telemetryDeps);
  const handlers = new HandlerRegistry().register(
    TELEMETRY_TASK_TYPES,
    deps.instrument ? deps.instrument(telemetry) : telemetry,
  );
  const expiredReplayer = new ExpiredReplayer({
    pool,
    handler: createTelemetryHandler({ ...telemetryDeps, observeVisibleLatency: false }),
    metrics,
    log: log.child({ component: 'expired-replay' }),
  });
  const decoder = createDecodePool({
    threads: config.WORKER_THREADS,
    maxFutureSkewMs: config.MAX_CLOCK_SKEW_SECONDS * 1000,
    ...(config.DEVICE_ID_HMAC_KEY ? { deviceIdHmacKey: config.DEVICE_ID_HMAC_KEY } : {}),
  });
  const consumers = new ConsumerPool({
    redis,
    redisUrl: config.REDIS_URL,
    queue: config.QUEUE_NAME,
    driver: config.QUEUE_DRIVER,
    shards: config.QUEUE_SHARDS,
    concurrency: config.CONSUMER_CONCURRENCY,
    leaseMs: config.CONSUMER_LEASE_MS,
    batchSize: config.FETCH_BATCH_SIZE,
    blockMs: config.FETCH_BLOCK_MS,
    handlers,
    metrics,
    log,
    maxAttempts: config.MAX_ATTEMPTS,
    retryBaseMs: config.RETRY_BASE_MS,
    retryMaxMs: config.RETRY_MAX_MS,
    decoder,
    traced: deps.traced ?? false,
  });

  const readiness = new Readiness()
    .register('redis', () => redis.ping())
    .register('postgres', () => pool.query('SELECT 1'));
  // The admin API replays dead letters through the queue's driver, as the CLI does.
  const dlq = createDeadLetterAdmin(redis, config.QUEUE_NAME, {
    shards: config.QUEUE_SHARDS,
    ...(config.QUEUE_DRIVER === 'bullmq' ? { replayTo: createQueueProducer('bullmq', redis, config.QUEUE_NAME) } : {}),
  });
  const app = createApp({
    log,
    registry,
    readiness,
    pool,
    latest,
    expiredReplayer,
    dlq,
    adminKeys: config.ADMIN_API_KEYS,
    queryKeys: config.QUERY_API_KEYS,
    accessLog: { mode: config.ACCESS_LOG, sampleRate: config.ACCESS_LOG_SAMPLE_RATE },
    ...(pseudonymizer ? { pseudonymizer } : {}),
  });
  const webhooks = config.ALERT_WEBHOOK_SECRET
    ? new WebhookDispatcher({
        pool,
        secret: config.ALERT_WEBHOOK_SECRET,
        metrics,
        log: log.child({ component: 'webhooks' }),
      })
    : undefined;

  let server: Server | undefined;
  return {
    metrics,
    pool,
    redis,
    readiness,
    fold,
    consumers,
    decoder,
    queueStats,
    async start() {
      // Listening from the first moment: /health answers while start-up waits for PostgreSQL (/ready does not).
      let waitingFor = 'waiting for PostgreSQL';
      const startingApp = createStartingApp({ registry, waitingFor: () => waitingFor });
      const listening = keepAliveBeyondProxies(createServer(startingApp)).listen(config.PROCESSOR_PORT);
      server = listening;
      await once(listening, 'listening');
      await waitForDatabase(pool, log, config.STARTUP_WAIT_SECONDS);
      waitingFor = 'migrating the database';
      if (config.MIGRATE_ON_START) await migrate(pool, log.child({ component: 'migrate' }));
      if (deviceMetadata.length) {
        const changed = await applyDeviceMetadata(pool, deviceMetadata);
        log.info({ devices: deviceMetadata.length, changed }, 'device metadata applied (DEVICE_METADATA_FILE)');
      }
      listening.removeListener('request', startingApp);
      listening.on('request', app);
      upkeep.start();
      sealer.start();
      fold.start();
      consumers.start();
      // BullMQ's workers do this themselves (its stalled check and delayed jobs).
      if (config.QUEUE_DRIVER === 'redis-list') maintenance.start();
      webhooks?.start();
      return listening;
    },
    shutdownSteps: () => [
      { name: 'readiness false', run: () => readiness.startDraining() },
      { name: 'stop consuming', run: () => consumers.stop() },
      { name: 'fold what is held', run: () => fold.stop() },
      { name: 'stop worker threads', run: () => decoder.close() },
      { name: 'stop queue maintenance', run: () => maintenance.stop() },
      { name: 'stop webhooks', run: () => webhooks?.stop() },
      { name: 'stop partition upkeep', run: () => upkeep.stop() },
      { name: 'stop sealing rollups', run: () => sealer.stop() },
      { name: 'close queue stats', run: () => queueStats.close() },
      {
        name: 'stop http',
        run: () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
      },
      { name: 'close redis', run: () => Promise.all([redis.quit(), consumers.close()]) },
      { name: 'close postgres', run: () => pool.end() },
    ],
  };
}

/** Waits for PostgreSQL at start-up (it may still be starting next to us), with a deadline. */
async function waitForDatabase(pool: pg.Pool, log: Logger, seconds: number): Promise<void> {
  const deadline = seconds > 0 ? Date.now() + seconds * 1000 : Infinity;
  for (let attempt = 1; ; attempt++) {
    try {
      await pool.query('SELECT 1');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      if (attempt === 1 || attempt % 10 === 0) log.warn({ err: briefError(err) }, 'waiting for PostgreSQL');
      await sleep(500);
    }
  }
}
