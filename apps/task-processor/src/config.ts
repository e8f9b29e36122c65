import { availableParallelism } from 'node:os';
import { z } from 'zod';
import {
  ServiceConfigShape,
  TracingConfigShape,
  ConfigError,
  loadConfig,
  apiKeysSetting,
  nonNegativeInt,
  port,
  positiveInt,
  postgresUrl,
  type LoadConfigOptions,
  type RenamedVariables,
} from '@telemetryhub/service-kit';
import { QueueConfigShape, queueConfigProblem, redisUrlWithPasswords } from '@telemetryhub/queue';
import { MIN_PSEUDONYM_KEY_LENGTH } from './privacy/device-pseudonymizer.js';
import { DEFAULT_OUTLIER_CONFIG } from './outliers/outlier-rules.js';
import { DEFAULT_FOLD_OPTIONS } from './fold/deferred-fold.js';
import { DEFAULT_ALLOWED_LATENESS_MS } from './late/event-time-watermark.js';
import { DEFAULT_RETENTION } from './store/retention.js';
import { defaultDecodeThreads } from './decode/decode-pool.js';

const nonNegativeNumber = (dflt: number) => z.coerce.number().min(0).default(dflt);

/** Consumer loops per process by default (CONSUMER_CONCURRENCY). */
export const DEFAULT_CONSUMER_CONCURRENCY = 3;

/** Every processor setting: its environment variable, default and description (docs/configuration.md is generated from it). */
export const ProcessorConfigSchema = z.object({
  ...QueueConfigShape,
  ...ServiceConfigShape,
  ...TracingConfigShape,
  MAX_CLOCK_SKEW_SECONDS: positiveInt(300).describe(
    'events stamped further in the future are refused: 400 naming the time field at the hub, dead-lettered (`invalid_payload`) at the processor',
  ),
  DATABASE_URL: postgresUrl().describe('PostgreSQL'),
  PROCESSOR_PORT: port(8081).describe('HTTP port'),
  CONSUMER_CONCURRENCY: positiveInt(DEFAULT_CONSUMER_CONCURRENCY).describe(
    'consumer loops per process, each with its own processing list, lease and connection; three keep one batch in PostgreSQL while another is decoded and a third is fetched (on two cores: 5–10 % more than two, [benchmarks.md](benchmarks.md#end-to-end-as-users-run-it-npm-run-benche2e))',
  ),
  WORKER_THREADS: nonNegativeInt(defaultDecodeThreads())
    .describe(
      'worker threads that decode tasks (parse, validate, upcast, pseudonymise); `0` = on the main thread, in slices between its I/O',
    )
    .meta({ shownDefault: '0 up to 2 cores, else one per core' }),
  FETCH_BATCH_SIZE: positiveInt(100).describe('most tasks taken per fetch (bounds in-flight work)'),
  FETCH_BLOCK_MS: positiveInt(1000).describe('how long a fetch blocks on an empty queue'),
  PG_POOL_MAX: positiveInt(Math.max(6, availableParallelism() * 2))
    .describe('PostgreSQL pool size: a connection per consumer loop, the fold, its sweep and the query API')
    .meta({ shownDefault: '`max(6, 2 × cores)`' }),
  PG_STATEMENT_TIMEOUT_MS: positiveInt(15_000).describe(
    'timeout of every SQL statement; a session idle inside a transaction for a third of it is ended by PostgreSQL, so a frozen processor cannot hold row locks that others wait on',
  ),
  MAX_ATTEMPTS: positiveInt(5).describe(
    "deliveries before a task is dead-lettered (`attempts_exhausted`); a task's own `max_attempts` wins",
  ),
  CONSUMER_LEASE_MS: positiveInt(30_000).describe(
    'a consumer that stops heartbeating this long has its tasks returned to the queue',
  ),
  RETRY_BASE_MS: positiveInt(1000).describe(
    'backoff of a transient failure (ms): full jitter up to base·2^(attempt−1), capped at `RETRY_MAX_MS`',
  ),
  RETRY_MAX_MS: positiveInt(60_000).describe('the cap of that backoff (ms)'),
  FOLD_INTERVAL_MS: positiveInt(DEFAULT_FOLD_OPTIONS.intervalMs).describe(
    'how often the fold looks at the readings stored meanwhile, and folds them into rollups, outlier state, devices and the latest-value cache when it holds several readings per row to write (or few rows): how far those trail the raw rows while folding is cheap ([Folding](storage-and-alerts.md#folding))',
  ),
  FOLD_MAX_DELAY_MS: positiveInt(DEFAULT_FOLD_OPTIONS.maxDelayMs).describe(
    'how long stored readings wait for their fold at most: a large fleet reporting slowly (few readings per series per interval) is folded this often, writing several readings per row instead of one; set it to `FOLD_INTERVAL_MS` to fold at every interval; at most half of `FOLD_ORPHAN_AFTER_MS`',
  ),
  FOLD_READINGS_PER_ROW: positiveInt(DEFAULT_FOLD_OPTIONS.readingsPerRow).describe(
    'readings held per row a fold writes (a series or a minute bucket) before a fold is due at a tick; more: fewer folds, each row write shared by more readings (less CPU per reading), the derived tables and the latest-value cache trailing longer — within `FOLD_MAX_DELAY_MS` ([Folding](storage-and-alerts.md#folding))',
  ),
  FOLD_ORPHAN_AFTER_MS: positiveInt(DEFAULT_FOLD_OPTIONS.orphanAfterMs).describe(
    'a batch left unfolded this long (its processor died) is folded from its raw rows by any replica',
  ),
  FOLD_MAX_READINGS: positiveInt(DEFAULT_FOLD_OPTIONS.maxReadings).describe(
    'stored readings gathered for the next fold at most (about 36 bytes each, beside a rollup entry per series and minute and one per device: 400,000 readings of 50,000 series take about 40 MiB); past it, storing waits for a fold (bounds memory)',
  ),
  MIGRATE_ON_START: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true')
    .describe(
      'apply migrations at start-up (under an advisory lock); `false` when a separate step runs `npx telemetryhub migrate`',
    ),
  ADMIN_API_KEYS: apiKeysSetting('ADMIN_API_KEYS')
    .describe(
      'keys of the admin API (`/v1/dlq…`), comma-separated `name:sha256hex` as `INGEST_API_KEYS` (`npx telemetryhub hash-key <key>`); unset, the admin API answers 403 to everyone',
    )
    .meta({ defaultNote: 'admin API off' }),
  QUERY_API_KEYS: apiKeysSetting('QUERY_API_KEYS')
    .describe(
      'keys of the read API (every `/v1` route but `/v1/dlq…`; an admin key works too), same form; `/health`, `/ready` and `/metrics` never need one',
    )
    .meta({ defaultNote: 'read API open' }),
  ALERT_WEBHOOK_URLS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.url({ error: 'must hold http(s) URLs, comma-separated' })))
    .describe(
      'comma-separated URLs that receive every alert change (see [storage-and-alerts.md](storage-and-alerts.md))',
    ),
  ALERT_WEBHOOK_SECRET: z
    .string()
    .min(16, { error: 'must be at least 16 characters' })
    .optional()
    .describe('HMAC key webhooks are signed with; required with `ALERT_WEBHOOK_URLS`, at least 16 characters'),
  ALERT_RULES_FILE: z
    .string()
    .min(1)
    .optional()
    .describe(
      'threshold alert rules, a YAML or JSON file replacing the defaults: `max` / `min` per metric with a `hysteresis`, for every device or one device (its own rule replaces the shared one of the same kind for it); see [storage-and-alerts.md](storage-and-alerts.md) and `apps/task-processor/alert-rules.example.yaml`',
    )
    .meta({ defaultNote: 'the defaults' }),
  DEVICE_METADATA_FILE: z
    .string()
    .min(1)
    .optional()
    .describe(
      "devices' model and labels, a YAML or JSON file applied to the `devices` table at start-up (the source of truth for the devices it lists); see `apps/task-processor/device-metadata.example.yaml`",
    ),
  OUTLIER_Z_SCORE: nonNegativeNumber(DEFAULT_OUTLIER_CONFIG.z).describe(
    "statistical outliers: fire when a reading is this many standard deviations from its device's running mean (`0` = off)",
  ),
  OUTLIER_RESOLVE_Z_SCORE: nonNegativeNumber(DEFAULT_OUTLIER_CONFIG.resolveZ).describe(
    '… resolve once a later reading is back within this many (below `OUTLIER_Z_SCORE`)',
  ),
  OUTLIER_ALPHA: z.coerce
    .number()
    .gt(0)
    .lte(1)
    .default(DEFAULT_OUTLIER_CONFIG.alpha)
    .describe('weight of each reading in the running mean and variance (0.05 ≈ the last 40 readings)'),
  OUTLIER_MIN_SAMPLES: positiveInt(DEFAULT_OUTLIER_CONFIG.minSamples).describe(
    'readings a device and metric need before they are judged',
  ),
  DEVICE_ID_HMAC_KEY: z
    .string()
    .min(MIN_PSEUDONYM_KEY_LENGTH, { error: 'must be at least 32 characters' })
    .optional()
    .describe(
      'device pseudonymisation: every device id is replaced by `dev_` + 128 bits of HMAC-SHA256 before anything is stored (see [storage-and-alerts.md](storage-and-alerts.md)); at least 32 characters; never change it',
    )
    .meta({ defaultNote: 'off' }),
  RAW_RETENTION_DAYS: positiveInt(DEFAULT_RETENTION.rawDays).describe(
    'raw readings are kept this many days: day partitions are dropped whole once every row in them is older (see [storage-and-alerts.md](storage-and-alerts.md))',
  ),
  ROLLUP_RETENTION_DAYS: positiveInt(DEFAULT_RETENTION.rollupDays).describe(
    '1-minute and 1-hour rollups are kept this many days (month partitions)',
  ),
  PARTITION_AHEAD_DAYS: nonNegativeInt(DEFAULT_RETENTION.aheadDays).describe(
    'day partitions created ahead of today; a missing one is also created on demand',
  ),
  PARTITION_UPKEEP_INTERVAL_SECONDS: positiveInt(3600).describe(
    'how often partition upkeep (create ahead, drop expired) runs; one replica at a time (advisory lock)',
  ),
  EXPIRY_HORIZON_DAYS: z.coerce
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      'readings older than this are expired: set aside whole in `expired_readings` (replayable) instead of the raw table and rollups; at most `RAW_RETENTION_DAYS`',
    )
    .meta({ shownDefault: '`RAW_RETENTION_DAYS`' }),
  ALLOWED_LATENESS_MS: nonNegativeInt(DEFAULT_ALLOWED_LATENESS_MS).describe(
    "a reading this far behind its device's newest event time is a late correction (`telemetryhub_processor_late_corrections_total`)",
  ),
  STARTUP_WAIT_SECONDS: nonNegativeInt(0)
    .describe(
      'how long start-up waits for PostgreSQL before it gives up (`0` = as long as it takes); meanwhile `/health` answers and `/ready` says why it is not ready',
    )
    .meta({ defaultNote: 'forever' }),
});
export type ProcessorConfig = z.output<typeof ProcessorConfigSchema>;

/** Settings that had another name: refused with the new one (see loadConfig). */
const RENAMED: RenamedVariables = {
  LATE_HORIZON_DAYS: {
    now: 'EXPIRY_HORIZON_DAYS',
    why: "readings older than it are expired; late readings are those behind a device's watermark, ALLOWED_LATENESS_MS",
  },
};

export function loadProcessorConfig(opts?: LoadConfigOptions): Readonly<ProcessorConfig> {
  const config = loadConfig(ProcessorConfigSchema, opts, [queueConfigProblem], RENAMED);
  if (config.OUTLIER_Z_SCORE > 0 && config.OUTLIER_RESOLVE_Z_SCORE >= config.OUTLIER_Z_SCORE) {
    throw new ConfigError([
      `OUTLIER_RESOLVE_Z_SCORE: must be below OUTLIER_Z_SCORE (${config.OUTLIER_Z_SCORE}) (got ${config.OUTLIER_RESOLVE_Z_SCORE})`,
    ]);
  }
  if (config.ALERT_WEBHOOK_URLS.length && !config.ALERT_WEBHOOK_SECRET) {
    throw new ConfigError(['ALERT_WEBHOOK_SECRET: is required when ALERT_WEBHOOK_URLS is set (got unset)']);
  }
  if (config.EXPIRY_HORIZON_DAYS !== undefined && config.EXPIRY_HORIZON_DAYS > config.RAW_RETENTION_DAYS) {
    throw new ConfigError([
      `EXPIRY_HORIZON_DAYS: must not exceed RAW_RETENTION_DAYS (${config.RAW_RETENTION_DAYS}): older raw partitions are dropped (got ${config.EXPIRY_HORIZON_DAYS})`,
    ]);
  }
  // A batch held longer than the orphan age is swept from its raw rows by another replica while its processor still
  // holds it: correct (each batch is folded by whichever transaction deletes its ledger row) but every fold done twice over.
  if (config.FOLD_MAX_DELAY_MS * 2 > config.FOLD_ORPHAN_AFTER_MS) {
    throw new ConfigError([
      `FOLD_MAX_DELAY_MS: must be at most half of FOLD_ORPHAN_AFTER_MS (${config.FOLD_ORPHAN_AFTER_MS}), or live batches are swept as orphans (got ${config.FOLD_MAX_DELAY_MS})`,
    ]);
  }
  return Object.freeze({ ...config, REDIS_URL: redisUrlWithPasswords(config) });
}
