import {
  configOrHelp,
  createLogger,
  createMetricsRegistry,
  installShutdown,
  redactUrl,
  startTracing,
} from '@telemetryhub/service-kit';
import { loadProcessorConfig } from './config.js';
import { DevicePseudonymizer } from './privacy/device-pseudonymizer.js';
import { loadAlertRulesFile } from './alerts/alert-rules-file.js';
import { loadDeviceMetadataFile } from './devices/device-metadata-file.js';
import { buildProcessor } from './build.js';
import { VERSION } from './version.js';

const HELP = `telemetryhub task-processor — takes tasks from the Redis queue and stores their readings in PostgreSQL.

Usage: npm run processor                    (configured by environment variables; see docs/configuration.md)
       npm run processor -- --check-config  validate the configuration and the rules and metadata files, exit
       npm run processor -- --version
       npm run processor -- --help

Main variables: REDIS_URL, DATABASE_URL, QUEUE_NAME, PROCESSOR_PORT, FETCH_BATCH_SIZE, WORKER_THREADS, PG_POOL_MAX,
LOG_LEVEL.
Storage: RAW_RETENTION_DAYS (30), ROLLUP_RETENTION_DAYS (730), EXPIRY_HORIZON_DAYS (older readings are
expired: set aside in expired_readings), ALLOWED_LATENESS_MS (a reading this far behind is a late correction).
API keys: QUERY_API_KEYS (the read API; open without), ADMIN_API_KEYS (the dead-letter admin API /v1/dlq; off
without), each name:sha256hex,… (npx telemetryhub hash-key <key>).
Devices: DEVICE_METADATA_FILE (model and labels; example: apps/task-processor/device-metadata.example.yaml).
Alerts: ALERT_RULES_FILE (threshold rules, per metric and optionally per device; example:
apps/task-processor/alert-rules.example.yaml), OUTLIER_Z_SCORE, ALERT_WEBHOOK_URLS + ALERT_WEBHOOK_SECRET.
Tracing: OTEL_EXPORTER_OTLP_ENDPOINT (OTLP/HTTP; off when unset), OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_SERVICE_NAME.
CONFIG_FILE may name a JSON file of the same keys.`;

async function main(): Promise<void> {
  const command = configOrHelp({
    app: 'task-processor',
    help: HELP,
    version: VERSION,
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
  if (!command) return;
  const { config, pseudonymizer, rules, deviceMetadata } = command.loaded;
  if (command.checkConfig) {
    console.log(
      `task-processor: configuration valid (${rules ? `${rules.length} alert rules from ALERT_RULES_FILE` : 'default alert rules'}, ` +
        `${deviceMetadata.length} devices in DEVICE_METADATA_FILE, pseudonymisation ${pseudonymizer ? 'on' : 'off'})`,
    );
    return;
  }
  const log = createLogger({
    service: 'task-processor',
    version: VERSION,
    level: config.LOG_LEVEL,
    format: config.LOG_FORMAT,
  });
  const registry = createMetricsRegistry({ service: 'telemetryhub-task-processor', version: VERSION });
  // Handlers start their spans (the commit) under the batch's active span, found through the async context.
  const tracing = startTracing(config, {
    name: 'telemetryhub-task-processor',
    version: VERSION,
    asyncContext: true,
  });
  const processor = buildProcessor(config, {
    log,
    registry,
    files: { pseudonymizer, rules, deviceMetadata },
    traced: tracing.enabled,
  });
  if (pseudonymizer) log.info('device ids are pseudonymised (DEVICE_ID_HMAC_KEY) before anything is stored');
  if (config.ADMIN_API_KEYS.length === 0) log.info('ADMIN_API_KEYS is not set: the admin API (/v1/dlq) is off');
  if (config.QUERY_API_KEYS.length === 0) log.warn('QUERY_API_KEYS is not set: the read API answers anyone');
  await processor.start();
  log.info(
    {
      port: config.PROCESSOR_PORT,
      redis: redactUrl(config.REDIS_URL),
      database: redactUrl(config.DATABASE_URL),
      queue: config.QUEUE_NAME,
      queueDriver: config.QUEUE_DRIVER,
      queueShards: config.QUEUE_SHARDS,
      consumers: config.CONSUMER_CONCURRENCY,
      workerThreads: processor.decoder.threads,
      rawRetentionDays: config.RAW_RETENTION_DAYS,
      expiryHorizonDays: config.EXPIRY_HORIZON_DAYS ?? config.RAW_RETENTION_DAYS,
      tracing: tracing.enabled ? config.OTEL_EXPORTER_OTLP_PROTOCOL : 'off',
    },
    'task-processor started',
  );
  installShutdown({
    log,
    timeoutMs: config.SHUTDOWN_TIMEOUT_SECONDS * 1000,
    steps: [...processor.shutdownSteps(), { name: 'export the last spans', run: () => tracing.shutdown() }],
  });
}

main().catch((err) => {
  console.error('task-processor: fatal error during start-up', err);
  process.exit(1);
});
