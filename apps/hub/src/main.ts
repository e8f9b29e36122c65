import { once } from 'node:events';
import {
  Readiness,
  configOrHelp,
  createLogger,
  createMetricsRegistry,
  installShutdown,
  redactUrl,
} from '@telemetryhub/service-kit';
import { createQueueProducer, createRedis } from '@telemetryhub/queue';
import { devicesFromEnv, loadHubConfig } from './config.js';
import { countSamples, createHubMetrics } from './metrics/hub-metrics.js';
import { ReadingBuffer } from './buffer/reading-buffer.js';
import { createDrivers } from './drivers/create-drivers.js';
import { loadDevicesFile } from './drivers/devices-file.js';
import { TaskPublisher } from './publish/task-publisher.js';
import { TaskSpool } from './spool/task-spool.js';
import { createApp } from './app.js';
import { RateLimiter } from './ingest/rate-limiter.js';
import { MqttIngest } from './ingest/mqtt-ingest.js';
import { DeviceRegistry } from './control/device-registry.js';
import { registerDeviceMetrics } from './control/device-metrics.js';
import { ClockSkewGuard } from './ingest/clock-skew-guard.js';
import { VERSION } from './version.js';

const HELP = `telemetryhub hub — the edge gateway: sensors and HTTP ingest → ring buffer → Redis queue.

Usage: npm run hub                        (configured by environment variables; see docs/configuration.md)
       npm run hub -- --check-config     validate the configuration and the devices file, print the devices, exit
       npm run hub -- --help

Main variables: REDIS_URL, QUEUE_NAME, HUB_PORT, DEVICES_FILE, SIM_DEVICES, SIM_RATE_HZ, BUFFER_CAPACITY,
BUFFER_POLICY, BATCH_MAX_READINGS, BATCH_LINGER_MS, ACK_MODE, SPOOL_DIR, SPOOL_MAX_BYTES, MQTT_URL, MQTT_TOPIC, LOG_LEVEL.
CONFIG_FILE may name a JSON file of the same keys.

Devices: DEVICES_FILE names a YAML or JSON file listing every device with its driver:
  serial     a UART / USB serial port: port, baudRate, format (json | csv | nmea | binary), metrics (field order)
  i2c        a sensor on an I2C bus: bus, address, sensor (bme280 | sht31), periodMs (needs the optional i2c-bus)
  simulated  count devices with rateHz, metrics, faultRate and anomalies (spike, gap, duplicate, outOfOrder)
Example: apps/hub/devices.example.yaml. Without DEVICES_FILE the hub simulates SIM_DEVICES devices (SIM_* variables).`;

async function main(): Promise<void> {
  const loaded = configOrHelp({
    app: 'hub',
    help: HELP,
    load: () => {
      const c = loadHubConfig();
      return { config: c, deviceList: c.DEVICES_FILE ? loadDevicesFile(c.DEVICES_FILE) : devicesFromEnv(c) };
    },
  });
  if (!loaded) return;
  const { config, deviceList } = loaded;
  if (process.argv.includes('--check-config')) {
    console.log(JSON.stringify({ devices: deviceList.devices }, null, 2));
    console.log(`hub: configuration valid (${deviceList.devices.length} device entries)`);
    return;
  }
  const log = createLogger({ service: 'hub', version: VERSION, level: config.LOG_LEVEL });
  const registry = createMetricsRegistry({ prefix: 'telemetry_hub', version: VERSION });
  const metrics = createHubMetrics(registry);

  // The producer fails fast while Redis is away; the publisher holds its batch and retries.
  const redis = createRedis(config.REDIS_URL, {
    offlineQueue: false,
    name: 'hub',
    log: log.child({ component: 'redis' }),
  });
  const producer = createQueueProducer(config.QUEUE_DRIVER, redis, config.QUEUE_NAME, {
    shards: config.QUEUE_SHARDS,
    ...(config.QUEUE_MAX_DEPTH > 0 ? { maxDepth: config.QUEUE_MAX_DEPTH } : {}),
  });
  const buffer = new ReadingBuffer(config.BUFFER_CAPACITY, config.BUFFER_POLICY, metrics);
  const spool = config.SPOOL_DIR
    ? await TaskSpool.open({
        dir: config.SPOOL_DIR,
        capacityBytes: config.SPOOL_MAX_BYTES,
        metrics,
        log: log.child({ component: 'spool' }),
      })
    : undefined;
  const publisher = new TaskPublisher({
    buffer,
    producer,
    metrics,
    log: log.child({ component: 'publisher' }),
    taskType: config.TASK_TYPE,
    batchMaxReadings: config.BATCH_MAX_READINGS,
    lingerMs: config.BATCH_LINGER_MS,
    ...(spool ? { spool } : {}),
  });
  // With a spool the hub keeps taking data while Redis is away, so Redis is not part of being ready.
  const readiness = new Readiness().register('buffer', async () => {
    if (buffer.isRefusing) throw new Error('ring buffer full (policy reject)');
  });
  if (!spool) readiness.register('redis', () => redis.ping());

  const devices = new DeviceRegistry(config.SAFE_STATE_AFTER_FAILURES, (deviceId, from, to, reason) => {
    const level = to === 'Error' || to === 'SafeState' ? 'warn' : 'info';
    log[level]({ deviceId, from, to, reason }, 'device state changed');
  });
  registerDeviceMetrics(registry, devices);
  const drivers = createDrivers(deviceList, {
    control: devices,
    metrics,
    log,
    site: config.SITE,
    region: config.REGION,
  });
  if (config.AUTO_START) devices.startAll();

  const skewGuard = new ClockSkewGuard({
    maxFutureSkewMs: config.MAX_CLOCK_SKEW_SECONDS * 1000,
    policy: config.CLOCK_SKEW_POLICY,
    metrics,
  });
  if (config.INGEST_API_KEYS.length === 0) log.warn('INGEST_API_KEYS is not set: HTTP ingest accepts anyone');
  const app = createApp({
    log,
    registry,
    metrics,
    readiness,
    buffer,
    bodyLimitBytes: config.HTTP_BODY_LIMIT_BYTES,
    apiKeys: config.INGEST_API_KEYS,
    skewGuard,
    devices,
    ...(config.ACK_MODE === 'durable' ? { durableAck: { timeoutMs: config.ACK_TIMEOUT_MS } } : {}),
    ...(config.INGEST_RATE_LIMIT_PER_SECOND > 0
      ? { rateLimiter: new RateLimiter(config.INGEST_RATE_LIMIT_PER_SECOND, config.INGEST_RATE_LIMIT_BURST) }
      : {}),
  });
  const server = app.listen(config.HUB_PORT);
  await once(server, 'listening');
  publisher.start();
  const mqtt = config.MQTT_URL
    ? new MqttIngest({
        url: config.MQTT_URL,
        topic: config.MQTT_TOPIC,
        qos: config.MQTT_QOS,
        clientId: config.MQTT_CLIENT_ID,
        buffer,
        metrics,
        log: log.child({ component: 'mqtt' }),
        parseOptions: skewGuard.parseOptions,
        durableAck: config.ACK_MODE === 'durable',
      })
    : undefined;
  void mqtt?.start(); // in the background: a broker that is away must not hold up the sensors
  for (const driver of drivers) {
    driver.start((readings) => {
      buffer.add(readings);
      countSamples(metrics, driver.name, readings);
    });
  }
  log.info(
    {
      port: config.HUB_PORT,
      redis: redactUrl(config.REDIS_URL),
      queue: config.QUEUE_NAME,
      drivers: drivers.map((d) => d.name),
      spool: config.SPOOL_DIR || 'off',
      mqtt: config.MQTT_URL ? redactUrl(config.MQTT_URL) : 'off',
    },
    'hub started',
  );

  const timeoutMs = config.SHUTDOWN_TIMEOUT_SECONDS * 1000;
  installShutdown({
    log,
    timeoutMs,
    steps: [
      { name: 'readiness false', run: () => readiness.startDraining() },
      { name: 'stop sensors', run: () => Promise.all(drivers.map((d) => d.stop())) },
      { name: 'stop http', run: () => new Promise<void>((resolve) => server.close(() => resolve())) },
      { name: 'stop mqtt', run: () => mqtt?.stop() },
      { name: 'flush buffer', run: () => publisher.stop(Math.max(1000, timeoutMs - 3000)) },
      { name: 'close spool', run: () => spool?.close() },
      { name: 'close redis', run: () => redis.quit() },
    ],
  });
}

main().catch((err) => {
  console.error('hub: fatal error during start-up', err);
  process.exit(1);
});
