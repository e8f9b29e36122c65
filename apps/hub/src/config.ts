import { z } from 'zod';
import {
  ServiceConfigShape,
  booleanFlag,
  loadConfig,
  nonNegativeInt,
  port,
  positiveInt,
  type LoadConfigOptions,
  apiKeysSetting,
} from '@telemetryhub/service-kit';
import { TaskTypes } from '@telemetryhub/schemas';
import { QueueConfigShape, queueConfigProblem } from '@telemetryhub/queue';
import type { DevicesFile, SimulatedEntry } from './drivers/devices-file.js';

const probability = () => z.coerce.number().min(0).max(1).default(0);

/** Every hub setting, its environment variable and its default. The README's configuration table mirrors this. */
export const HubConfigSchema = z.object({
  ...QueueConfigShape,
  ...ServiceConfigShape,
  /** Clock-skew guard: events stamped further than this in the future are refused (hub: 400, processor: DLQ). */
  MAX_CLOCK_SKEW_SECONDS: positiveInt(300),
  HUB_PORT: port(8080),
  /**
   * The device list (YAML or JSON: devices, their driver — serial, i2c, simulated — port/bus/address, metrics,
   * period); see apps/hub/devices.example.yaml. When set, it is the whole list and the SIM_* variables are not used.
   */
  DEVICES_FILE: z.string().default(''),
  /** Simulated sensors: how many devices (0 turns the simulator off). */
  SIM_DEVICES: nonNegativeInt(5),
  /** Simulated sensors: samples per second per device (each sample reads every metric). */
  SIM_RATE_HZ: z.coerce.number().positive().max(100_000).default(1),
  SIM_METRICS: z
    .string()
    .default('temperature,humidity,pressure,voltage,current')
    .transform((s) =>
      s
        .split(',')
        .map((m) => m.trim())
        .filter(Boolean),
    ),
  /** Seed of the simulator's random numbers; unset = a new seed per run. */
  SIM_SEED: z.coerce.number().int().optional(),
  /** Simulated faults: probability that one sample's read fails (exercises SafeState). */
  SIM_FAULT_RATE: probability(),
  /** Simulated faults: a communication failure after this many samples since a device started (0 = never). */
  SIM_COMM_FAILURE_AFTER: nonNegativeInt(0),
  /** Simulated misbehaviour, each a probability per sample (0 = off): a value far out of range (per reading) … */
  SIM_SPIKE_RATE: probability(),
  /** … a sample never sent (its sequence_id skipped) … */
  SIM_GAP_RATE: probability(),
  /** … a sample sent twice with the same event_id … */
  SIM_DUPLICATE_RATE: probability(),
  /** … a sample held back and sent after the device's next one. */
  SIM_OUT_OF_ORDER_RATE: probability(),
  /** Start measuring at boot (otherwise devices wait in Idle for POST /start). */
  AUTO_START: booleanFlag(true),
  /** Consecutive read failures that latch a device in SafeState until POST /reset. */
  SAFE_STATE_AFTER_FAILURES: positiveInt(5),
  SITE: z.string().max(128).default('local'),
  REGION: z.string().max(128).default('local'),
  /** Ring buffer capacity, in readings. */
  BUFFER_CAPACITY: positiveInt(100_000),
  /** What a full buffer does: evict the oldest reading (counted) or refuse new ones (HTTP 503). */
  BUFFER_POLICY: z.enum(['drop-oldest', 'reject']).default('drop-oldest'),
  /** A task is published when it holds this many readings … */
  BATCH_MAX_READINGS: positiveInt(500),
  /** … or when the oldest reading in it has waited this long. */
  BATCH_LINGER_MS: nonNegativeInt(50),
  /**
   * When HTTP answers 202 and MQTT sends PUBACK: `durable` (default) once the readings are in Redis or fsync'd to
   * the spool — requests within one linger share one publish and one fsync, so the ack waits about one linger;
   * `memory` as soon as they are in the ring buffer (faster, but a hub killed within the linger loses readings it
   * acknowledged).
   */
  ACK_MODE: z.enum(['durable', 'memory']).default('durable'),
  /** Longest a durable ack waits (then HTTP 503 with Retry-After: the client resends; duplicates are dropped). */
  ACK_TIMEOUT_MS: positiveInt(10_000),
  /**
   * API keys accepted by HTTP ingest, as `name:sha256hex,…` (never the keys themselves; hash one with
   * `npx telemetryhub hash-key <key>`). Unset = no authentication, for local development only.
   */
  INGEST_API_KEYS: apiKeysSetting('INGEST_API_KEYS'),
  /** Ingest requests per second per client (API key, or address without keys); 0 = no limit. */
  INGEST_RATE_LIMIT_PER_SECOND: z.coerce.number().nonnegative().default(0),
  /** Requests a client may send at once before the rate applies. */
  INGEST_RATE_LIMIT_BURST: positiveInt(20),
  /** Largest HTTP body accepted (bytes); larger gets 413. */
  HTTP_BODY_LIMIT_BYTES: positiveInt(1_048_576),
  /**
   * Backpressure: the hub holds its batches (and its ring buffer fills) instead of pushing past this many
   * pending tasks. 0 = no limit.
   */
  QUEUE_MAX_DEPTH: nonNegativeInt(0),
  /**
   * Directory of the durable spool that keeps tasks on disk while Redis is unreachable or the queue is full, and
   * replays them oldest first. `off` = no spool (batches are held in memory and retried). (An empty variable
   * counts as unset, like every variable, so it means the default, not "off".)
   */
  SPOOL_DIR: z
    .string()
    .default('data/hub-spool')
    .transform((d) => (d.trim().toLowerCase() === 'off' ? '' : d)),
  /** Spool capacity in bytes; warns at 70 %, then drops normal-priority batches past 90 % (counted). */
  SPOOL_MAX_BYTES: positiveInt(1024 * 1024 * 1024),
  /** MQTT broker for MQTT ingest (`mqtt://user:pass@host:1883`, `mqtts://…`); empty = MQTT ingest off. */
  MQTT_URL: z
    .string()
    .default('')
    .refine((u) => u === '' || /^(mqtts?|wss?):\/\//.test(u), 'must start with mqtt://, mqtts://, ws:// or wss://'),
  /** Topic filter MQTT ingest subscribes to. */
  MQTT_TOPIC: z.string().min(1).default('telemetry/#'),
  /** QoS of the subscription: 1 (default) = at least once, acked only once buffered. */
  MQTT_QOS: z.coerce
    .number()
    .pipe(z.union([z.literal(0), z.literal(1), z.literal(2)], { error: 'must be 0, 1 or 2' }))
    .default(1),
  /** Client id (a persistent session: the broker keeps messages for it while the hub restarts). */
  MQTT_CLIENT_ID: z.string().min(1).max(128).default('telemetryhub-hub'),
  /**
   * What the clock-skew guard does with an event stamped further ahead than MAX_CLOCK_SKEW_SECONDS: `reject` it
   * (HTTP 400 naming the time field, MQTT message skipped) or `clamp` its time to the hub's now. Both are counted
   * per device (`GET /v1/clock-skew`).
   */
  CLOCK_SKEW_POLICY: z.enum(['reject', 'clamp']).default('reject'),
  /** Type of the tasks the hub publishes. */
  TASK_TYPE: z.string().default(TaskTypes.ANALYZE),
});
export type HubConfig = z.output<typeof HubConfigSchema>;

export function loadHubConfig(opts?: LoadConfigOptions): Readonly<HubConfig> {
  return loadConfig(HubConfigSchema, opts, [queueConfigProblem]);
}

/** The device list without a DEVICES_FILE: the simulated devices the SIM_* variables describe (none if SIM_DEVICES=0). */
export function devicesFromEnv(config: HubConfig): DevicesFile {
  if (config.SIM_DEVICES === 0) return { devices: [] };
  const simulated: SimulatedEntry = {
    driver: 'simulated',
    count: config.SIM_DEVICES,
    idPrefix: 'sim-',
    rateHz: config.SIM_RATE_HZ,
    metrics: config.SIM_METRICS,
    faultRate: config.SIM_FAULT_RATE,
    commFailureAfter: config.SIM_COMM_FAILURE_AFTER,
    anomalies: {
      spike: config.SIM_SPIKE_RATE,
      gap: config.SIM_GAP_RATE,
      duplicate: config.SIM_DUPLICATE_RATE,
      outOfOrder: config.SIM_OUT_OF_ORDER_RATE,
    },
    ...(config.SIM_SEED !== undefined ? { seed: config.SIM_SEED } : {}),
  };
  return { devices: [simulated] };
}
