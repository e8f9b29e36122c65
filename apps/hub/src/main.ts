import { pino } from 'pino';
import {
  configOrHelp,
  createLogger,
  createMetricsRegistry,
  installShutdown,
  redactUrl,
  startTracing,
} from '@telemetryhub/service-kit';
import { devicesFromEnv, loadHubConfig } from './config.js';
import { loadDevicesFile } from './drivers/devices-file.js';
import { buildHub } from './build.js';
import { VERSION } from './version.js';
import { readOnce } from './drivers/read-once.js';

/** How long `--once` waits for every device's first reading. */
const ONCE_TIMEOUT_MS = 10_000;

const HELP = `telemetryhub hub — the edge gateway: sensors and HTTP ingest → ring buffer → Redis queue.

Usage: npm run hub                        (configured by environment variables; see docs/configuration.md)
       npm run hub -- --check-config     validate the configuration and the devices file, print the devices, exit
       npm run hub -- --once             read every configured device once, print the readings (JSON lines), exit;
                                         no Redis, no HTTP (exit 1 if a device gave nothing within 10 s)
       npm run hub -- --version
       npm run hub -- --help

Main variables: REDIS_URL, QUEUE_NAME, HUB_PORT, DEVICES_FILE, SIM_DEVICES, SIM_RATE_HZ, BUFFER_CAPACITY,
BUFFER_POLICY, BATCH_MAX_READINGS, BATCH_LINGER_MS, ACK_MODE, SPOOL_DIR, SPOOL_MAX_BYTES, MQTT_URL, MQTT_TOPIC, LOG_LEVEL.
Tracing: OTEL_EXPORTER_OTLP_ENDPOINT (OTLP/HTTP; off when unset), OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_SERVICE_NAME.
CONFIG_FILE may name a JSON file of the same keys.

Devices: DEVICES_FILE names a YAML or JSON file listing every device with its driver:
  serial     a UART / USB serial port: port, baudRate, format (json | csv | nmea | binary), metrics (field order)
  i2c        a sensor on an I2C bus: bus, address, sensor (bme280 | sht31), periodMs (needs the optional i2c-bus)
  simulated  count devices with rateHz, metrics, faultRate and anomalies (spike, gap, duplicate, outOfOrder)
Example: apps/hub/devices.example.yaml. Without DEVICES_FILE the hub simulates SIM_DEVICES devices (SIM_* variables).`;

async function main(): Promise<void> {
  const command = configOrHelp({
    app: 'hub',
    help: HELP,
    version: VERSION,
    flags: ['once'],
    load: () => {
      const c = loadHubConfig();
      return { config: c, deviceList: c.DEVICES_FILE ? loadDevicesFile(c.DEVICES_FILE) : devicesFromEnv(c) };
    },
  });
  if (!command) return;
  const { config, deviceList } = command.loaded;
  if (command.checkConfig) {
    console.log(JSON.stringify({ devices: deviceList.devices }, null, 2));
    console.log(`hub: configuration valid (${deviceList.devices.length} device entries)`);
    return;
  }
  if (command.flags.has('once')) {
    // Driver warnings (a port that cannot open) go to stderr; stdout carries only the readings.
    const stderrLog = createLogger(
      { service: 'hub', version: VERSION, level: config.LOG_LEVEL, format: config.LOG_FORMAT },
      pino.destination(2),
    );
    const { readings, silent } = await readOnce(deviceList, {
      timeoutMs: ONCE_TIMEOUT_MS,
      site: config.SITE,
      region: config.REGION,
      log: stderrLog,
    });
    for (const r of readings) console.log(JSON.stringify(r));
    const devices = new Set(readings.map((r) => r.device_id)).size;
    console.error(`hub --once: ${devices} device(s) read, ${readings.length} reading(s)`);
    if (silent.length) {
      console.error(`hub --once: nothing from ${silent.join(', ')} within ${ONCE_TIMEOUT_MS / 1000} s`);
      process.exitCode = 1;
    }
    return;
  }
  const log = createLogger({ service: 'hub', version: VERSION, level: config.LOG_LEVEL, format: config.LOG_FORMAT });
  const registry = createMetricsRegistry({ service: 'telemetryhub-hub', version: VERSION });
  // The hub hands each request's context on explicitly (res.locals, the buffer's trace origins).
  const tracing = startTracing(config, { name: 'telemetryhub-hub', version: VERSION, asyncContext: false });
  const hub = await buildHub(config, deviceList, { log, registry, traced: tracing.enabled });
  if (config.INGEST_API_KEYS.length === 0) log.warn('INGEST_API_KEYS is not set: HTTP ingest accepts anyone');
  await hub.start();
  log.info(
    {
      port: config.HUB_PORT,
      redis: redactUrl(config.REDIS_URL),
      queue: config.QUEUE_NAME,
      drivers: hub.drivers.map((d) => d.name),
      spool: config.SPOOL_DIR || 'off',
      mqtt: config.MQTT_URL ? redactUrl(config.MQTT_URL) : 'off',
      tracing: tracing.enabled ? config.OTEL_EXPORTER_OTLP_PROTOCOL : 'off',
    },
    'hub started',
  );
  const timeoutMs = config.SHUTDOWN_TIMEOUT_SECONDS * 1000;
  installShutdown({
    log,
    timeoutMs,
    steps: [...hub.shutdownSteps(timeoutMs), { name: 'export the last spans', run: () => tracing.shutdown() }],
  });
}

main().catch((err) => {
  console.error('hub: fatal error during start-up', err);
  process.exit(1);
});
