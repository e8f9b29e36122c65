import { once } from 'node:events';
import { createServer } from 'node:http';
import type pg from 'pg';
import type { Logger } from 'pino';
import {
  Readiness,
  configOrHelp,
  createLogger,
  createMetricsRegistry,
  installShutdown,
  redactUrl,
  briefError,
  sleep,
} from '@telemetryhub/service-kit';
import {
  QueueMaintenance,
  createRedis,
  registerQueueMetrics,
  createDeadLetterAdmin,
  createQueueProducer,
  createQueueStats,
  shardQueueNames,
} from '@telemetryhub/queue';
import { loadProcessorConfig } from './config.js';
import { createProcessorMetrics, registerPoolGauge } from './metrics/processor-metrics.js';
import { partitionMetrics } from './store/partition-upkeep.js';
import { createPgPool } from './store/pool.js';
import { migrate } from './store/migrate.js';
import { HandlerRegistry, TELEMETRY_TASK_TYPES, createTelemetryHandler } from './handlers/index.js';
import { DeferredFold } from './fold/deferred-fold.js';
import { ConsumerGroup } from './consume/consumer-group.js';
import { createApp, createStartingApp } from './app.js';
import { LatestCache } from './store/latest.cache.js';
import { DevicePseudonymizer } from './privacy/device-pseudonymizer.js';
import { loadAlertRulesFile } from './alerts/alert-rules-file.js';
import { loadDeviceMetadataFile } from './devices/device-metadata-file.js';
import { applyDeviceMetadata } from './devices/devices.repo.js';
import { createDecodePool } from './decode/decode-pool.js';
import { WebhookDispatcher } from './alerts/webhook-dispatcher.js';
import { VERSION } from './version.js';
import { PartitionManager } from './store/partitions.js';
import { LateReplayer } from './late/late-replay.js';
import { PartitionUpkeep } from './store/partition-upkeep.js';
import { DEFAULT_RETENTION } from './store/retention.js';
import { EventTimeWatermarks } from './late/event-time-watermark.js';

const HELP = `telemetryhub task-processor — takes tasks from the Redis queue and stores their readings in PostgreSQL.

Usage: npm run processor            (configured by environment variables; see docs/configuration.md)
       npm run processor -- --help

Main variables: REDIS_URL, DATABASE_URL, QUEUE_NAME, PROCESSOR_PORT, FETCH_BATCH_SIZE, WORKER_THREADS, PG_POOL_MAX,
LOG_LEVEL.
Storage: RAW_RETENTION_DAYS (30), ROLLUP_RETENTION_DAYS (730), LATE_HORIZON_DAYS (older readings go to
late_readings), ALLOWED_LATENESS_MS.
API keys: QUERY_API_KEYS (the read API; open without), ADMIN_API_KEYS (the dead-letter admin API /v1/dlq; off
without), each name:sha256hex,… (npx telemetryhub hash-key <key>).
Devices: DEVICE_METADATA_FILE (model and labels; example: apps/task-processor/device-metadata.example.yaml).
Alerts: ALERT_RULES_FILE (threshold rules, per metric and optionally per device; example:
apps/task-processor/alert-rules.example.yaml), OUTLIER_Z_SCORE, ALERT_WEBHOOK_URLS + ALERT_WEBHOOK_SECRET.
CONFIG_FILE may name a JSON file of the same keys.`;

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

async function main(): Promise<void> {
  const loaded = configOrHelp({
    app: 'task-processor',
    help: HELP,
    load: () => {
      const c = loadProcessorConfig();
      const pseudonymizer = c.DEVICE_ID_HMAC_KEY ? new DevicePseudonymizer(c.DEVICE_ID_HMAC_KEY) : undefined;
      // The rules file names devices as they send themselves; pseudonymised readings carry their pseudonyms.
      const storedId = pseudonymizer && ((id: string) => pseudonymizer.storedDeviceId(id));
      // Without a file the handler uses its defaults (DEFAULT_RULES).
      const rules = c.ALERT_RULES_FILE ? loadAlertRulesFile(c.ALERT_RULES_FILE, storedId) : undefined;
      const deviceMetadata = c.DEVICE_METADATA_FILE ? loadDeviceMetadataFile(c.DEVICE_METADATA_FILE, storedId) : [];
      return { config: c, pseudonymizer, rules, deviceMetadata };
    },
  });
  if (!loaded) return;
  const { config, pseudonymizer, rules, deviceMetadata } = loaded;
  const log = createLogger({ service: 'task-processor', version: VERSION, level: config.LOG_LEVEL });
  const registry = createMetricsRegistry({ prefix: 'taskproc', version: VERSION });
  const metrics = createProcessorMetrics(registry);

  const pool = createPgPool(
    config.DATABASE_URL,
    { max: config.PG_POOL_MAX, statementTimeoutMs: config.PG_STATEMENT_TIMEOUT_MS },
    log.child({ component: 'pg' }),
  );
  registerPoolGauge(registry, pool);
  // Listening from the first moment: /health answers while start-up waits for PostgreSQL (/ready does not).
  let waitingFor = 'waiting for PostgreSQL';
  const startingApp = createStartingApp({ registry, waitingFor: () => waitingFor });
  const server = createServer(startingApp).listen(config.PROCESSOR_PORT);
  await once(server, 'listening');
  await waitForDatabase(pool, log, config.STARTUP_WAIT_SECONDS);
  waitingFor = 'migrating the database';
  if (config.MIGRATE_ON_START) await migrate(pool, log.child({ component: 'migrate' }));
  if (deviceMetadata.length) {
    const changed = await applyDeviceMetadata(pool, deviceMetadata);
    log.info({ devices: deviceMetadata.length, changed }, 'device metadata applied (DEVICE_METADATA_FILE)');
  }

  const redisLog = log.child({ component: 'redis' });
  const redis = createRedis(config.REDIS_URL, { name: 'task-processor', log: redisLog });
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
  if (pseudonymizer) log.info('device ids are pseudonymised (DEVICE_ID_HMAC_KEY) before anything is stored');
  const partitions = new PartitionManager(pool, partitionMetrics(metrics));
  const lateHorizonDays = config.LATE_HORIZON_DAYS ?? config.RAW_RETENTION_DAYS;
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
  const outliers =
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
    options: {
      intervalMs: config.FOLD_INTERVAL_MS,
      orphanAfterMs: config.FOLD_ORPHAN_AFTER_MS,
      maxReadings: config.FOLD_MAX_READINGS,
    },
  });
  const telemetryDeps: Parameters<typeof createTelemetryHandler>[0] = {
    pool,
    metrics,
    latest,
    partitions,
    watermarks: new EventTimeWatermarks(config.ALLOWED_LATENESS_MS),
    lateHorizonMs: lateHorizonDays * 86_400_000,
    webhookUrls: config.ALERT_WEBHOOK_URLS,
    ...(rules ? { rules } : {}),
    ...(outliers ? { outliers } : {}),
    fold,
    log: log.child({ component: 'telemetry' }),
  };
  const handlers = new HandlerRegistry().register(TELEMETRY_TASK_TYPES, createTelemetryHandler(telemetryDeps));
  const lateReplayer = new LateReplayer({
    pool,
    handler: createTelemetryHandler({ ...telemetryDeps, observeVisibleLatency: false }),
    metrics,
    log: log.child({ component: 'late-replay' }),
  });
  const decoder = createDecodePool({
    threads: config.WORKER_THREADS,
    maxFutureSkewMs: config.MAX_CLOCK_SKEW_SECONDS * 1000,
    ...(config.DEVICE_ID_HMAC_KEY ? { deviceIdHmacKey: config.DEVICE_ID_HMAC_KEY } : {}),
  });
  const consumers = new ConsumerGroup({
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
  });

  const readiness = new Readiness()
    .register('redis', () => redis.ping())
    .register('postgres', () => pool.query('SELECT 1'));
  // The admin API replays dead letters through the queue's driver, as the CLI does.
  const dlq = createDeadLetterAdmin(redis, config.QUEUE_NAME, {
    shards: config.QUEUE_SHARDS,
    ...(config.QUEUE_DRIVER === 'bullmq' ? { replayTo: createQueueProducer('bullmq', redis, config.QUEUE_NAME) } : {}),
  });
  if (config.ADMIN_API_KEYS.length === 0) log.info('ADMIN_API_KEYS is not set: the admin API (/v1/dlq) is off');
  if (config.QUERY_API_KEYS.length === 0) log.warn('QUERY_API_KEYS is not set: the read API answers anyone');
  const app = createApp({
    log,
    registry,
    readiness,
    pool,
    latest,
    lateReplayer,
    dlq,
    adminKeys: config.ADMIN_API_KEYS,
    queryKeys: config.QUERY_API_KEYS,
    ...(pseudonymizer ? { pseudonymizer } : {}),
  });
  server.removeListener('request', startingApp);
  server.on('request', app);
  upkeep.start();
  fold.start();
  consumers.start();
  // BullMQ's workers do this themselves (its stalled check and delayed jobs).
  if (config.QUEUE_DRIVER === 'redis-list') maintenance.start();
  const webhooks = config.ALERT_WEBHOOK_SECRET
    ? new WebhookDispatcher({
        pool,
        secret: config.ALERT_WEBHOOK_SECRET,
        metrics,
        log: log.child({ component: 'webhooks' }),
      })
    : undefined;
  webhooks?.start();
  log.info(
    {
      port: config.PROCESSOR_PORT,
      redis: redactUrl(config.REDIS_URL),
      database: redactUrl(config.DATABASE_URL),
      queue: config.QUEUE_NAME,
      queueDriver: config.QUEUE_DRIVER,
      queueShards: config.QUEUE_SHARDS,
      consumers: config.CONSUMER_CONCURRENCY,
      workerThreads: decoder.threads,
      rawRetentionDays: config.RAW_RETENTION_DAYS,
      lateHorizonDays,
    },
    'task-processor started',
  );

  installShutdown({
    log,
    timeoutMs: config.SHUTDOWN_TIMEOUT_SECONDS * 1000,
    steps: [
      { name: 'readiness false', run: () => readiness.startDraining() },
      { name: 'stop consuming', run: () => consumers.stop() },
      { name: 'fold what is held', run: () => fold.stop() },
      { name: 'stop worker threads', run: () => decoder.close() },
      { name: 'stop queue maintenance', run: () => maintenance.stop() },
      { name: 'stop webhooks', run: () => webhooks?.stop() },
      { name: 'stop partition upkeep', run: () => upkeep.stop() },
      { name: 'close queue stats', run: () => queueStats.close() },
      { name: 'stop http', run: () => new Promise<void>((resolve) => server.close(() => resolve())) },
      { name: 'close redis', run: () => Promise.all([redis.quit(), consumers.close()]) },
      { name: 'close postgres', run: () => pool.end() },
    ],
  });
}

main().catch((err) => {
  console.error('task-processor: fatal error during start-up', err);
  process.exit(1);
});
