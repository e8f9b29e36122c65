import { z } from 'zod';
import {
  ServiceConfigShape,
  TracingConfigShape,
  booleanFlag,
  loadConfig,
  nonNegativeInt,
  port,
  positiveInt,
  type LoadConfigOptions,
  apiKeysSetting,
} from '@telemetryhub/service-kit';
import { TaskTypes } from '@telemetryhub/schemas';
import { QueueConfigShape, queueConfigProblem, redisUrlWithPasswords } from '@telemetryhub/queue';
import type { DevicesFile, SimulatedEntry } from './drivers/devices-file.js';

const probability = () => z.coerce.number().min(0).max(1).default(0);

/** Every hub setting: its environment variable, default and description (docs/configuration.md is generated from it). */
export const HubConfigSchema = z.object({
  ...QueueConfigShape,
  ...ServiceConfigShape,
  ...TracingConfigShape,
  MAX_CLOCK_SKEW_SECONDS: positiveInt(300).describe(
    'events stamped further in the future are refused: 400 naming the time field at the hub, dead-lettered (`invalid_payload`) at the processor',
  ),
  HUB_PORT: port(8080).describe('HTTP port'),
  DEVICES_FILE: z
    .string()
    .default('')
    .describe(
      'the device list, YAML or JSON (serial, I2C and simulated devices; see [sensors.md](sensors.md)); when set it is the whole list and the `SIM_*` variables are unused. `npm run hub -- --check-config` validates it',
    )
    .meta({ defaultNote: 'simulated devices' }),
  SIM_DEVICES: nonNegativeInt(5).describe('simulated devices (`0` = simulator off)'),
  SIM_RATE_HZ: z.coerce
    .number()
    .positive()
    .max(100_000)
    .default(1)
    .describe('samples per second per device (each sample reads every metric)'),
  SIM_METRICS: z
    .string()
    .default('temperature,humidity,pressure,voltage,current')
    .transform((s) =>
      s
        .split(',')
        .map((m) => m.trim())
        .filter(Boolean),
    )
    .describe('metrics the simulator reads'),
  SIM_SEED: z.coerce
    .number()
    .int()
    .optional()
    .describe('seed, to replay a simulation exactly')
    .meta({ shownDefault: 'random' }),
  SIM_FAULT_RATE: probability().describe('probability that a simulated read fails (exercises SafeState)'),
  SIM_COMM_FAILURE_AFTER: nonNegativeInt(0)
    .describe('a simulated communication failure (→ Error) after this many samples since a device started')
    .meta({ defaultNote: 'never' }),
  SIM_SPIKE_RATE: probability().describe(
    "probability that a simulated reading is a spike (its level ± the metric's whole range): outliers, alert rules",
  ),
  SIM_GAP_RATE: probability().describe(
    'probability that a simulated sample is never sent (its `sequence_id` is skipped): gap detection',
  ),
  SIM_DUPLICATE_RATE: probability().describe(
    'probability that a simulated sample is sent twice with the same `event_id`: deduplication',
  ),
  SIM_OUT_OF_ORDER_RATE: probability().describe(
    "probability that a simulated sample is held back and sent after the device's next one: out-of-order and late events",
  ),
  AUTO_START: booleanFlag(true).describe(
    'devices start measuring at boot; otherwise they wait in Idle for `POST /start`',
  ),
  SAFE_STATE_AFTER_FAILURES: positiveInt(5).describe(
    'consecutive read failures that latch a device in SafeState until `POST /reset`',
  ),
  SITE: z
    .string()
    .max(128)
    .default('local')
    .describe("the `site` label of every device's readings, unless its devices-file entry sets its own"),
  REGION: z
    .string()
    .max(128)
    .default('local')
    .describe("the `region` label of every device's readings, unless its devices-file entry sets its own"),
  BUFFER_CAPACITY: positiveInt(100_000).describe('ring buffer size, in readings'),
  BUFFER_POLICY: z
    .enum(['drop-oldest', 'reject'])
    .default('drop-oldest')
    .describe('full buffer: evict oldest (counted) or `reject` (HTTP 503 + Retry-After, `/ready` false)'),
  BATCH_MAX_READINGS: positiveInt(500).describe('readings per task'),
  BATCH_LINGER_MS: nonNegativeInt(50).describe('longest wait for a batch to fill'),
  ACK_MODE: z
    .enum(['durable', 'memory'])
    .default('durable')
    .describe(
      'when HTTP answers 202 and MQTT sends PUBACK: `durable` once the readings are in Redis or fsynced to the spool (requests within one linger share one publish and one fsync); `memory` once they are in the ring buffer (faster; a hub killed within the linger loses readings it acknowledged)',
    ),
  ACK_TIMEOUT_MS: positiveInt(10_000).describe(
    'longest a durable HTTP ack waits; then 503 + Retry-After (resend: duplicates are dropped by `event_id`). MQTT waits without a limit and never acks what was lost',
  ),
  INGEST_API_KEYS: apiKeysSetting('INGEST_API_KEYS')
    .describe(
      '`name:sha256hex,…`: keys accepted by HTTP ingest, stored as hashes (`npx telemetryhub hash-key <key>`); unset is for local development and logs a warning',
    )
    .meta({ defaultNote: 'no auth' }),
  INGEST_RATE_LIMIT_PER_SECOND: z.coerce
    .number()
    .nonnegative()
    .default(0)
    .describe('ingest requests per second per client (API key, or address without keys)')
    .meta({ defaultNote: 'no limit' }),
  INGEST_RATE_LIMIT_BURST: positiveInt(20).describe('requests a client may send at once before the rate applies'),
  HTTP_BODY_LIMIT_BYTES: positiveInt(1_048_576).describe('larger bodies get 413'),
  QUEUE_MAX_DEPTH: nonNegativeInt(0)
    .describe('at this many pending tasks the hub holds its batches (its ring buffer fills) instead of pushing')
    .meta({ defaultNote: 'no limit' }),
  SPOOL_DIR: z
    .string()
    .default('data/hub-spool')
    .transform((d) => (d.trim().toLowerCase() === 'off' ? '' : d))
    .describe(
      'durable spool for when Redis is unreachable or the queue is full; `off` = no spool (the batch in hand is held in memory and retried)',
    ),
  SPOOL_MAX_BYTES: positiveInt(1024 * 1024 * 1024)
    .describe('spool capacity: warns at 70 %; past 90 % only urgent tasks are spooled, the rest dropped and counted')
    .meta({ defaultNote: '1 GiB' }),
  MQTT_URL: z
    .string()
    .default('')
    .refine((u) => u === '' || /^(mqtts?|wss?):\/\//.test(u), 'must start with mqtt://, mqtts://, ws:// or wss://')
    .describe(
      'broker to take events from (`mqtt://user:pass@host:1883`, `mqtts://…`); connects in the background and reconnects every second',
    )
    .meta({ defaultNote: 'MQTT ingest off' }),
  MQTT_TOPIC: z
    .string()
    .min(1)
    .default('telemetry/#')
    .describe('topic filter subscribed to; every message is one event or a batch in any accepted shape'),
  MQTT_QOS: z.coerce
    .number()
    .pipe(z.union([z.literal(0), z.literal(1), z.literal(2)], { error: 'must be 0, 1 or 2' }))
    .default(1)
    .describe('subscription QoS; a message is acknowledged only once its readings are in the ring buffer'),
  MQTT_PROTOCOL_VERSION: z
    .enum(['3.1.1', '5'])
    .default('3.1.1')
    .describe(
      "MQTT version spoken to the broker; `5` also continues a publisher's trace from the message's user properties `traceparent` and `tracestate` (W3C Trace Context for MQTT), its session kept as 3.1.1 keeps one (never expires)",
    ),
  MQTT_CLIENT_ID: z
    .string()
    .min(1)
    .max(128)
    .default('telemetryhub-hub')
    .describe(
      'client id of a persistent session: the broker keeps QoS ≥ 1 messages while the hub restarts (one id per hub)',
    ),
  CLOCK_SKEW_POLICY: z
    .enum(['reject', 'clamp'])
    .default('reject')
    .describe(
      "what the hub does with such an event: `reject` it, or `clamp` its time to the hub's now; both counted in `telemetryhub_hub_clock_skew_events_total{action}` and per device at `GET /v1/clock-skew`",
    ),
  TASK_TYPE: z.string().default(TaskTypes.ANALYZE).describe('type of the tasks the hub publishes'),
  TASK_PAYLOAD_FORMAT: z
    .enum(['columns', 'readings'])
    .default('columns')
    .describe(
      'how a task carries its readings: `columns` (one array per field, about 95 bytes a reading) or `readings` (one object per reading, about 245), which processors older than the columnar payload read; see the wire protocol in libs/queue/README.md',
    ),
});
export type HubConfig = z.output<typeof HubConfigSchema>;

export function loadHubConfig(opts?: LoadConfigOptions): Readonly<HubConfig> {
  const config = loadConfig(HubConfigSchema, opts, [queueConfigProblem]);
  return Object.freeze({ ...config, REDIS_URL: redisUrlWithPasswords(config) });
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
