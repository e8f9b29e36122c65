import { once } from 'node:events';
import type { Server } from 'node:http';
import type { Express } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Readiness, keepAliveBeyondProxies, type ShutdownStep } from '@telemetryhub/service-kit';
import { createQueueProducer, createRedis, type QueueProducer, type RedisClient } from '@telemetryhub/queue';
import type { HubConfig } from './config.js';
import { countReadings, createHubMetrics, type HubMetrics } from './metrics/hub-metrics.js';
import { ReadingBuffer } from './buffer/reading-buffer.js';
import { createDrivers } from './drivers/create-drivers.js';
import type { DevicesFile } from './drivers/devices-file.js';
import type { SensorDriver } from './drivers/sensor-driver.js';
import { TaskPublisher } from './publish/task-publisher.js';
import { TaskSpool } from './spool/task-spool.js';
import { createApp } from './app.js';
import { RateLimiter } from './ingest/rate-limiter.js';
import { MqttIngest } from './ingest/mqtt-ingest.js';
import { ClockSkewGuard } from './ingest/clock-skew-guard.js';
import { DeviceRegistry } from './control/device-registry.js';
import { registerDeviceMetrics } from './control/device-metrics.js';

/** The hub's HTTP side: the ring buffer, device control, the clock-skew guard, and the app that routes into them. */
export interface HubIngest {
  registry: Registry;
  metrics: HubMetrics;
  buffer: ReadingBuffer;
  readiness: Readiness;
  devices: DeviceRegistry;
  skewGuard: ClockSkewGuard;
  app: Express;
}

export function buildHubIngest(
  config: HubConfig,
  deps: { log: Logger; registry: Registry; devices?: DeviceRegistry; clock?: () => number; traced?: boolean },
): HubIngest {
  const { log, registry } = deps;
  const metrics = createHubMetrics(registry);
  const traced = deps.traced ?? false;
  const buffer = new ReadingBuffer(config.BUFFER_CAPACITY, config.BUFFER_POLICY, metrics, { traced });
  const readiness = new Readiness().register('buffer', async () => {
    if (buffer.isRefusing) throw new Error('ring buffer full (policy reject)');
  });
  const devices =
    deps.devices ??
    new DeviceRegistry(config.SAFE_STATE_AFTER_FAILURES, (deviceId, from, to, reason) => {
      const level = to === 'Error' || to === 'SafeState' ? 'warn' : 'info';
      log[level]({ deviceId, from, to, reason }, 'device state changed');
    });
  registerDeviceMetrics(registry, devices);
  const skewGuard = new ClockSkewGuard({
    maxFutureSkewMs: config.MAX_CLOCK_SKEW_SECONDS * 1000,
    policy: config.CLOCK_SKEW_POLICY,
    metrics,
  });
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
    accessLog: { mode: config.ACCESS_LOG, sampleRate: config.ACCESS_LOG_SAMPLE_RATE },
    traced,
    ...(config.ACK_MODE === 'durable' ? { durableAck: { timeoutMs: config.ACK_TIMEOUT_MS } } : {}),
    ...(config.INGEST_RATE_LIMIT_PER_SECOND > 0
      ? {
          rateLimiter: new RateLimiter(config.INGEST_RATE_LIMIT_PER_SECOND, config.INGEST_RATE_LIMIT_BURST, deps.clock),
        }
      : {}),
  });
  return { registry, metrics, buffer, readiness, devices, skewGuard, app };
}

/** The whole hub: its HTTP side, the queue it publishes to, the spool, the sensors and MQTT ingest. */
export interface Hub extends HubIngest {
  redis: RedisClient;
  producer: QueueProducer;
  spool: TaskSpool | undefined;
  publisher: TaskPublisher;
  drivers: SensorDriver[];
  mqtt: MqttIngest | undefined;
  /** Listens on HUB_PORT (0: any free port), then starts publishing, MQTT and the sensors. */
  start(): Promise<Server>;
  /** What SIGTERM runs, in order: stop taking data, flush what was taken, close connections. */
  shutdownSteps(timeoutMs: number): ShutdownStep[];
}

/** Builds the hub as `npm run hub` runs it; nothing listens or reads sensors until `start()`. */
export async function buildHub(
  config: HubConfig,
  deviceList: DevicesFile,
  deps: { log: Logger; registry: Registry; traced?: boolean },
): Promise<Hub> {
  const { log } = deps;
  const ingest = buildHubIngest(config, deps);
  const { metrics, buffer, readiness, devices } = ingest;
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
    payloadFormat: config.TASK_PAYLOAD_FORMAT,
    batchMaxReadings: config.BATCH_MAX_READINGS,
    lingerMs: config.BATCH_LINGER_MS,
    ...(spool ? { spool } : {}),
  });
  // With a spool the hub keeps taking data while Redis is away, so Redis is not part of being ready.
  if (!spool) readiness.register('redis', () => redis.ping());
  const drivers = createDrivers(deviceList, {
    control: devices,
    metrics,
    log,
    site: config.SITE,
    region: config.REGION,
  });
  const mqtt = config.MQTT_URL
    ? new MqttIngest({
        url: config.MQTT_URL,
        topic: config.MQTT_TOPIC,
        qos: config.MQTT_QOS,
        clientId: config.MQTT_CLIENT_ID,
        protocolVersion: config.MQTT_PROTOCOL_VERSION === '5' ? 5 : 4,
        buffer,
        metrics,
        log: log.child({ component: 'mqtt' }),
        parseOptions: ingest.skewGuard.parseOptions,
        durableAck: config.ACK_MODE === 'durable',
        traced: deps.traced ?? false,
      })
    : undefined;
  let server: Server | undefined;
  return {
    ...ingest,
    redis,
    producer,
    spool,
    publisher,
    drivers,
    mqtt,
    async start() {
      if (config.AUTO_START) devices.startAll();
      server = keepAliveBeyondProxies(ingest.app.listen(config.HUB_PORT));
      await once(server, 'listening');
      publisher.start();
      void mqtt?.start(); // in the background: a broker that is away must not hold up the sensors
      for (const driver of drivers) {
        driver.start((readings) => {
          buffer.add(readings);
          countReadings(metrics, driver.name, readings.length);
        });
      }
      return server;
    },
    shutdownSteps: (timeoutMs) => [
      { name: 'readiness false', run: () => readiness.startDraining() },
      { name: 'stop sensors', run: () => Promise.all(drivers.map((d) => d.stop())) },
      {
        name: 'stop http',
        run: () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
      },
      { name: 'stop mqtt', run: () => mqtt?.stop() },
      { name: 'flush buffer', run: () => publisher.stop(Math.max(1000, timeoutMs - 3000)) },
      { name: 'close spool', run: () => spool?.close() },
      { name: 'close redis', run: () => redis.quit() },
    ],
  };
}
