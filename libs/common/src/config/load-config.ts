import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AppError, ErrorCodes } from '../errors/index.js';
import { parseRedisTarget } from '../queue/redis-target.js';
import { QUEUE_DRIVERS } from '../queue/driver.js';

/** Every problem with the configuration, one line each, naming the variable. */
export class ConfigError extends AppError {
  constructor(readonly problems: string[]) {
    super(ErrorCodes.CONFIG, `invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export interface LoadConfigOptions {
  /** Defaults to process.env; tests pass their own. */
  env?: Record<string, string | undefined>;
}

/**
 * Validates configuration once, at start-up. Keys of `schema` are environment variable names. If `CONFIG_FILE`
 * names a JSON file, its keys are read first and the environment overrides them. Empty strings count as unset.
 * On failure throws a ConfigError listing *every* bad variable; on success returns a frozen object.
 */
export function loadConfig<S extends z.ZodObject>(schema: S, opts: LoadConfigOptions = {}): Readonly<z.output<S>> {
  const env = opts.env ?? process.env;
  const merged: Record<string, unknown> = {};
  const file = env.CONFIG_FILE;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError([`CONFIG_FILE: cannot read ${file} as JSON (${(err as Error).message})`]);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError([`CONFIG_FILE: ${file} must hold a JSON object of VARIABLE: value`]);
    }
    for (const [k, v] of Object.entries(parsed)) merged[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  for (const key of Object.keys(schema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') merged[key] = v;
  }
  const r = schema.safeParse(merged);
  if (!r.success) {
    throw new ConfigError(
      r.error.issues.map((i) => {
        const name = String(i.path[0] ?? '');
        const got = merged[name];
        const shown = got === undefined ? 'unset' : isSecretName(name) ? '(redacted)' : JSON.stringify(got);
        return `${name}: ${i.message} (got ${shown})`;
      }),
    );
  }
  const clash = queueTargetProblem(r.data as Record<string, unknown>);
  if (clash) throw new ConfigError([clash]);
  return Object.freeze(r.data) as Readonly<z.output<S>>;
}

/**
 * On a Redis Cluster a queue's keys must share one slot (its Lua scripts touch several at once), which only a
 * hash tag in its name guarantees: say so at start-up rather than with CROSSSLOT errors at the first fetch.
 * A sharded queue's shards carry tags of their own; sharding is the redis-list driver's.
 */
function queueTargetProblem(c: Record<string, unknown>): string | null {
  const shards = typeof c.QUEUE_SHARDS === 'number' ? c.QUEUE_SHARDS : 1;
  if (shards > 1 && c.QUEUE_DRIVER === 'bullmq') {
    return `QUEUE_SHARDS: sharding needs QUEUE_DRIVER=redis-list (got QUEUE_SHARDS=${shards} with bullmq)`;
  }
  if (typeof c.REDIS_URL !== 'string' || typeof c.QUEUE_NAME !== 'string' || shards > 1) return null;
  if (parseRedisTarget(c.REDIS_URL).kind !== 'cluster' || /\{[^}]+\}/.test(c.QUEUE_NAME)) return null;
  return `QUEUE_NAME: on a Redis Cluster the queue name needs a hash tag, e.g. "{${c.QUEUE_NAME}}" (got "${c.QUEUE_NAME}")`;
}

function isSecretName(name: string): boolean {
  return /PASSWORD|SECRET|KEY|TOKEN/i.test(name);
}

/** A URL with its passwords replaced, for logs and start-up banners (also a multi-host Sentinel URL). */
export function redactUrl(url: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return '(unparseable url)';
  return url
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*):[^@/]*@/i, '$1:***@')
    .replace(/([?&]sentinel_password=)[^&]*/, '$1***');
}

/** Reusable pieces of the apps' config schemas. */
export const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);
export const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
export const nonNegativeInt = (fallback: number) => z.coerce.number().int().nonnegative().default(fallback);
/** A REDIS_URL that createRedis can connect with: parseRedisTarget is the one judge of what that is. */
export const redisUrl = () =>
  z
    .string()
    .superRefine((url, ctx) => {
      try {
        parseRedisTarget(url);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    })
    .default('redis://127.0.0.1:6379');
export const postgresUrl = () =>
  z
    .string()
    .regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// URL' })
    .default('postgres://postgres@127.0.0.1:5432/telemetry');
export const logLevel = () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info');
export const queueName = () =>
  z
    .string()
    .regex(/^[A-Za-z0-9_.:{}-]{1,64}$/, { error: 'may hold letters, digits and _ . : { } - (at most 64)' })
    .default('tasks');
export const booleanFlag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** The variables both apps share. */
export const CommonConfigShape = {
  REDIS_URL: redisUrl(),
  QUEUE_NAME: queueName(),
  /** Which queue carries the tasks: our Redis-list protocol (default) or BullMQ. Hub and processor must agree. */
  QUEUE_DRIVER: z.enum(QUEUE_DRIVERS).default('redis-list'),
  /**
   * Shard the queue over this many Redis queues (`{QUEUE_NAME:i}`), routed by device, so a Redis Cluster spreads
   * it over its primaries. 1 = one queue named QUEUE_NAME. Hub, processor and CLI must agree. redis-list only.
   */
  QUEUE_SHARDS: z.coerce.number().int().min(1).max(1024).default(1),
  LOG_LEVEL: logLevel(),
  /** Clock-skew guard: events stamped further than this in the future are refused (hub: 400, processor: DLQ). */
  MAX_CLOCK_SKEW_SECONDS: positiveInt(300),
  /** Seconds the app may take to drain on SIGTERM before it exits 1. */
  SHUTDOWN_TIMEOUT_SECONDS: positiveInt(25),
};
