import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AppError, ErrorCodes } from '../errors/index.js';
import { LOG_FORMATS } from '../log/logger.js';
import { ACCESS_LOG_MODES } from '../http/access-log.js';

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
 * Variables that were renamed: old name → the new name and why. Setting an old one is a ConfigError naming the new
 * one — strict rather than ignored, because a setting silently dropped brings its default back.
 */
export type RenamedVariables = Readonly<Record<string, { now: string; why: string }>>;

/** A rule across variables, checked once each is valid on its own: a problem line naming the variable, or null. */
export type ConfigCheck = (config: Record<string, unknown>) => string | null;

/**
 * Validates configuration once, at start-up. Keys of `schema` are environment variable names. If `CONFIG_FILE`
 * names a JSON file, its keys are read first and the environment overrides them. Empty strings count as unset.
 * On failure throws a ConfigError listing *every* bad variable; on success returns a frozen object.
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  opts: LoadConfigOptions = {},
  checks: readonly ConfigCheck[] = [],
  renamed: RenamedVariables = {},
): Readonly<z.output<S>> {
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
  const stale = Object.entries(renamed).filter(([old]) => (env[old] ?? '') !== '' || merged[old] !== undefined);
  if (stale.length) {
    throw new ConfigError(
      stale.map(([old, to]) => `${old}: renamed ${to.now} (${to.why}) (got ${env[old] ?? merged[old]})`),
    );
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
  const problems = checks
    .map((check) => check(r.data as Record<string, unknown>))
    .filter((p): p is string => p !== null);
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze(r.data) as Readonly<z.output<S>>;
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
export const postgresUrl = () =>
  z
    .string()
    .regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// URL' })
    .default('postgres://postgres@127.0.0.1:5432/telemetry');
export const logLevel = () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info');
export const booleanFlag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** The variables every service reads. */
export const ServiceConfigShape = {
  LOG_LEVEL: logLevel().describe('`fatal` `error` `warn` `info` `debug` `trace` `silent`'),
  LOG_FORMAT: z
    .enum(LOG_FORMATS)
    .default('auto')
    .describe('`json` (one object per line), `pretty` (for people), `auto`: pretty when stdout is a terminal'),
  ACCESS_LOG: z
    .enum(ACCESS_LOG_MODES)
    .default('all')
    .describe(
      'one line per HTTP request (id, method, path, status, duration, API key name): `all`, `errors` (status ≥ 400), `off`; probes and scrapes never',
    ),
  ACCESS_LOG_SAMPLE_RATE: z.coerce
    .number()
    .min(0)
    .max(1)
    .default(1)
    .describe('with `ACCESS_LOG=all`, the share of successful requests logged (errors always are)'),
  SHUTDOWN_TIMEOUT_SECONDS: positiveInt(25).describe('drain budget after SIGTERM; past it the app exits 1'),
};
