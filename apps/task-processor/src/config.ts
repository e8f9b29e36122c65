import { availableParallelism } from 'node:os';
import { z } from 'zod';
import {
  ServiceConfigShape,
  ConfigError,
  loadConfig,
  apiKeysSetting,
  nonNegativeInt,
  port,
  positiveInt,
  postgresUrl,
  type LoadConfigOptions,
} from '@telemetryhub/service-kit';
import { QueueConfigShape, queueConfigProblem } from '@telemetryhub/queue';
import { MIN_PSEUDONYM_KEY_LENGTH } from './privacy/device-pseudonymizer.js';
import { DEFAULT_OUTLIER_CONFIG } from './outliers/outlier-rules.js';
import { DEFAULT_FOLD_OPTIONS } from './fold/deferred-fold.js';
import { DEFAULT_ALLOWED_LATENESS_MS } from './late/event-time-watermark.js';
import { DEFAULT_RETENTION } from './store/retention.js';

const nonNegativeNumber = (dflt: number) => z.coerce.number().min(0).default(dflt);

/** Every task-processor setting, its environment variable and its default (mirrored in the README). */
export const ProcessorConfigSchema = z.object({
  ...QueueConfigShape,
  ...ServiceConfigShape,
  /** Clock-skew guard: events stamped further than this in the future are refused (hub: 400, processor: DLQ). */
  MAX_CLOCK_SKEW_SECONDS: positiveInt(300),
  DATABASE_URL: postgresUrl(),
  PROCESSOR_PORT: port(8081),
  /**
   * Consumer loops per process, each with its own processing list, lease and Redis connection: while one waits
   * for PostgreSQL, another validates. In-flight work is at most CONSUMER_CONCURRENCY × FETCH_BATCH_SIZE tasks.
   */
  CONSUMER_CONCURRENCY: positiveInt(2),
  /**
   * Worker threads that decode tasks (parse JSON, validate and upcast events, pseudonymise); 0 = on the main
   * thread. Default: one per core.
   */
  WORKER_THREADS: nonNegativeInt(availableParallelism()),
  /** Most tasks taken per fetch (bounds in-flight work). */
  FETCH_BATCH_SIZE: positiveInt(100),
  /** How long a fetch blocks on an empty queue (ms). */
  FETCH_BLOCK_MS: positiveInt(1000),
  /** PostgreSQL pool size. */
  PG_POOL_MAX: positiveInt(Math.max(4, availableParallelism() * 2)),
  /** Timeout of every SQL statement (ms). */
  PG_STATEMENT_TIMEOUT_MS: positiveInt(15_000),
  /** Deliveries a task gets before it is dead-lettered (a task's own max_attempts wins). */
  MAX_ATTEMPTS: positiveInt(5),
  /** A consumer's lease (ms): if it stops heartbeating this long, its tasks are returned to the queue. */
  CONSUMER_LEASE_MS: positiveInt(30_000),
  /** Backoff of transient failures: full jitter up to base·2^(attempt−1), capped at max (ms). */
  RETRY_BASE_MS: positiveInt(1000),
  RETRY_MAX_MS: positiveInt(60_000),
  /**
   * How often stored readings are folded into rollups, outlier state and devices (ms): how far those trail the raw
   * rows, and how many batches share one fold (docs/storage-and-alerts.md, "Folding").
   */
  FOLD_INTERVAL_MS: positiveInt(DEFAULT_FOLD_OPTIONS.intervalMs),
  /** A batch left unfolded this long (ms) — its processor died — is folded from its raw rows by any replica. */
  FOLD_ORPHAN_AFTER_MS: positiveInt(DEFAULT_FOLD_OPTIONS.orphanAfterMs),
  /** Stored readings held for the next fold at most; past it, storing waits for a fold (bounds memory). */
  FOLD_MAX_READINGS: positiveInt(DEFAULT_FOLD_OPTIONS.maxReadings),
  /** Run migrations at start-up (one replica at a time, under an advisory lock). */
  MIGRATE_ON_START: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  /**
   * Keys for the admin API (`/v1/dlq…`: list, inspect, replay and purge dead letters): comma-separated
   * `name:sha256hex`, as the hub's INGEST_API_KEYS (`npx telemetryhub hash-key`). Unset = the admin API refuses
   * every request (403).
   */
  ADMIN_API_KEYS: apiKeysSetting('ADMIN_API_KEYS'),
  /**
   * Keys for the read API (every `/v1` route but the admin API's; an admin key works too), in the same form.
   * Unset = the read API is open (keep it behind your network's own access control then).
   */
  QUERY_API_KEYS: apiKeysSetting('QUERY_API_KEYS'),
  /** Alert webhooks: comma-separated URLs that receive every alert change (signed, retried). Unset = none. */
  ALERT_WEBHOOK_URLS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.url({ error: 'must hold http(s) URLs, comma-separated' }))),
  /** The HMAC-SHA256 key webhooks are signed with (required with ALERT_WEBHOOK_URLS; at least 16 characters). */
  ALERT_WEBHOOK_SECRET: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  /**
   * Threshold alert rules: a YAML or JSON file (see apps/task-processor/alert-rules.example.yaml) that replaces
   * the built-in defaults. Unset = the defaults (temperature > 80 or < −20, humidity > 95, voltage < 2.8,
   * current > 2).
   */
  ALERT_RULES_FILE: z.string().min(1).optional(),
  /**
   * Device metadata: a YAML or JSON file of devices' model and labels (see
   * apps/task-processor/device-metadata.example.yaml), applied to the `devices` table at start-up. Unset = none.
   */
  DEVICE_METADATA_FILE: z.string().min(1).optional(),
  /** Statistical outliers: fire when a reading is this many standard deviations from its running mean (0 = off). */
  OUTLIER_Z_SCORE: nonNegativeNumber(DEFAULT_OUTLIER_CONFIG.z),
  /** … and resolve once a later reading is back within this many. */
  OUTLIER_RESOLVE_Z_SCORE: nonNegativeNumber(DEFAULT_OUTLIER_CONFIG.resolveZ),
  /** Weight of each reading in the running mean and variance (0.05 ≈ the last 40 readings). */
  OUTLIER_ALPHA: z.coerce.number().gt(0).lte(1).default(DEFAULT_OUTLIER_CONFIG.alpha),
  /** Readings a device and metric need before they are judged. */
  OUTLIER_MIN_SAMPLES: positiveInt(DEFAULT_OUTLIER_CONFIG.minSamples),
  /**
   * Device pseudonymisation: with a key, every device id is replaced by a keyed HMAC pseudonym (`dev_…`) before
   * anything is stored. At least 32 characters; keep it secret and never change it (a new key = new devices).
   */
  DEVICE_ID_HMAC_KEY: z.string().min(MIN_PSEUDONYM_KEY_LENGTH, { error: 'must be at least 32 characters' }).optional(),
  /** Raw readings are kept this many days: whole day partitions are dropped once every row in them is older. */
  RAW_RETENTION_DAYS: positiveInt(DEFAULT_RETENTION.rawDays),
  /** Rollups (1 minute, 1 hour) are kept this many days (month partitions). */
  ROLLUP_RETENTION_DAYS: positiveInt(DEFAULT_RETENTION.rollupDays),
  /** Day partitions created ahead of today by the upkeep job (the hot path creates any missing one on demand). */
  PARTITION_AHEAD_DAYS: nonNegativeInt(DEFAULT_RETENTION.aheadDays),
  /** How often partition upkeep (create ahead, drop expired) runs; one replica at a time (advisory lock). */
  PARTITION_UPKEEP_INTERVAL_SECONDS: positiveInt(3600),
  /**
   * Readings older than this many days go to the late side output (`late_readings`, inspect and replay with
   * `npx telemetryhub late`) instead of the raw table. Default and maximum: RAW_RETENTION_DAYS.
   */
  LATE_HORIZON_DAYS: z.coerce.number().int().positive().optional(),
  /** A reading this far (ms) behind its device's newest event time counts as a late correction of its rollups. */
  ALLOWED_LATENESS_MS: nonNegativeInt(DEFAULT_ALLOWED_LATENESS_MS),
  /** How long start-up waits for PostgreSQL to answer before it gives up (s); 0 = forever. */
  STARTUP_WAIT_SECONDS: nonNegativeInt(0),
});
export type ProcessorConfig = z.output<typeof ProcessorConfigSchema>;

export function loadProcessorConfig(opts?: LoadConfigOptions): Readonly<ProcessorConfig> {
  const config = loadConfig(ProcessorConfigSchema, opts, [queueConfigProblem]);
  if (config.OUTLIER_Z_SCORE > 0 && config.OUTLIER_RESOLVE_Z_SCORE >= config.OUTLIER_Z_SCORE) {
    throw new ConfigError([
      `OUTLIER_RESOLVE_Z_SCORE: must be below OUTLIER_Z_SCORE (${config.OUTLIER_Z_SCORE}) (got ${config.OUTLIER_RESOLVE_Z_SCORE})`,
    ]);
  }
  if (config.ALERT_WEBHOOK_URLS.length && !config.ALERT_WEBHOOK_SECRET) {
    throw new ConfigError(['ALERT_WEBHOOK_SECRET: is required when ALERT_WEBHOOK_URLS is set (got unset)']);
  }
  if (config.LATE_HORIZON_DAYS !== undefined && config.LATE_HORIZON_DAYS > config.RAW_RETENTION_DAYS) {
    throw new ConfigError([
      `LATE_HORIZON_DAYS: must not exceed RAW_RETENTION_DAYS (${config.RAW_RETENTION_DAYS}): older raw partitions are dropped (got ${config.LATE_HORIZON_DAYS})`,
    ]);
  }
  return config;
}
