import { z } from 'zod';
import { loadConfigFile, parseConfigFile } from '@telemetryhub/service-kit';
import { DeviceIdSchema, LabelSchema, MetricNameSchema, UnitSchema } from '@telemetryhub/schemas';
import { SERIAL_FORMATS } from './serial-driver.js';
import { I2C_SENSORS } from './i2c-driver.js';
import { simulatedId } from './device-ids.js';

/**
 * The hub's device list (`DEVICES_FILE`, YAML or JSON): every device, its driver, where it is attached and what
 * it measures. Without a file the hub runs the simulated devices the SIM_* variables describe. See
 * `apps/hub/devices.example.yaml`.
 */
const identity = {
  /** Labels of every reading of this device; default: the hub's SITE / REGION. */
  site: LabelSchema.optional(),
  region: LabelSchema.optional(),
  firmware: LabelSchema.optional(),
  /** Unit per metric, where the default for the metric's name (temperature → C, …) does not fit. */
  units: z.record(MetricNameSchema, UnitSchema).optional(),
};

const metricList = z.array(MetricNameSchema).min(1).max(62);

const SerialEntrySchema = z
  .object({
    driver: z.literal('serial'),
    id: DeviceIdSchema,
    ...identity,
    port: z.string().min(1),
    baudRate: z.number().int().min(50).max(4_000_000).default(9600),
    format: z.enum(SERIAL_FORMATS),
    /** Metric of each field in order (csv, nmea, binary); json lines name their own. */
    metrics: metricList.optional(),
    sentence: z
      .string()
      .regex(/^[A-Z0-9]{1,16}$/, 'must be 1–16 capital letters or digits')
      .optional(),
    separator: z.string().length(1).optional(),
  })
  .strict()
  .superRefine((d, ctx) => {
    if (d.format !== 'json' && !d.metrics) {
      ctx.addIssue({ code: 'custom', path: ['metrics'], message: `required for format ${d.format} (the field order)` });
    }
  });

const I2cEntrySchema = z
  .object({
    driver: z.literal('i2c'),
    id: DeviceIdSchema,
    ...identity,
    bus: z.number().int().min(0).max(255),
    /** 7-bit address, as a number or a hex string: `0x76`. */
    address: z
      .union([z.number(), z.string().regex(/^0x[0-9a-fA-F]{1,2}$/, 'must be a number or a hex string like 0x76')])
      .transform((a) => (typeof a === 'number' ? a : parseInt(a, 16)))
      .pipe(z.number().int().min(0x03).max(0x77, 'must be a 7-bit address (0x03–0x77)')),
    sensor: z.enum(I2C_SENSORS),
    periodMs: z.number().int().min(20).max(3_600_000).default(1000),
  })
  .strict();

const probability = z.number().min(0).max(1).default(0);
const SimulatedEntrySchema = z
  .object({
    driver: z.literal('simulated'),
    /** How many devices: `<idPrefix>001`, `<idPrefix>002`, … */
    count: z.number().int().min(1).max(100_000),
    idPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/)
      .default('sim-'),
    rateHz: z.number().positive().max(100_000).default(1),
    metrics: metricList.default(['temperature', 'humidity', 'pressure', 'voltage', 'current']),
    site: LabelSchema.optional(),
    region: LabelSchema.optional(),
    seed: z.number().int().optional(),
    faultRate: probability,
    commFailureAfter: z.number().int().min(0).default(0),
    anomalies: z
      .object({ spike: probability, gap: probability, duplicate: probability, outOfOrder: probability })
      .strict()
      .partial()
      .default({}),
  })
  .strict();

export const DevicesFileSchema = z
  .object({
    devices: z.array(z.discriminatedUnion('driver', [SerialEntrySchema, I2cEntrySchema, SimulatedEntrySchema])),
  })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Map<string, number>();
    file.devices.forEach((d, i) => {
      const ids =
        d.driver === 'simulated' ? Array.from({ length: d.count }, (_, n) => simulatedId(d.idPrefix, n)) : [d.id];
      for (const id of ids) {
        const first = seen.get(id);
        if (first !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['devices', i], message: `device id ${id} is also devices[${first}]` });
        } else seen.set(id, i);
      }
    });
  });
export type DevicesFile = z.output<typeof DevicesFileSchema>;
export type DeviceEntry = DevicesFile['devices'][number];
export type SerialEntry = Extract<DeviceEntry, { driver: 'serial' }>;
export type I2cEntry = Extract<DeviceEntry, { driver: 'i2c' }>;
export type SimulatedEntry = Extract<DeviceEntry, { driver: 'simulated' }>;

/** Reads and validates the file; a ConfigError lists every problem with where it is (`devices[2].address`). */
export function loadDevicesFile(path: string): DevicesFile {
  return loadConfigFile(DevicesFileSchema, path, 'DEVICES_FILE');
}

export function parseDevicesFile(text: string, path: string): DevicesFile {
  return parseConfigFile(DevicesFileSchema, text, path, 'DEVICES_FILE');
}
