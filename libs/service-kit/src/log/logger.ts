import { createRequire } from 'node:module';
import { pino, type Logger, type LoggerOptions } from 'pino';
import type pinoPrettyModule from 'pino-pretty';
import { activeTraceFields } from '../tracing/trace-context.js';

/**
 * pino-pretty is loaded only when pretty output is asked for: JSON in production does without it, and loading it
 * costs every process (the apps, the CLI) tens of milliseconds at start.
 */
const loadPinoPretty = () => createRequire(import.meta.url)('pino-pretty') as typeof pinoPrettyModule;

export type { Logger };

/** `json` for machines (one object per line), `pretty` for people; `auto` = pretty when stdout is a terminal. */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** What `auto` means here: pretty for a person at a terminal, JSON for everything that reads logs. */
export function resolveLogFormat(format: LogFormat, stdoutIsTty = Boolean(process.stdout.isTTY)): 'json' | 'pretty' {
  if (format === 'auto') return stdoutIsTty ? 'pretty' : 'json';
  return format;
}

/**
 * Logs with `service` and `version` on every line: JSON to stdout with the level as a word (`"level":"info"`, as
 * log pipelines expect), or pino-pretty's lines for people (`format`). A line written inside a traced span carries
 * its `trace_id` and `span_id`. Secrets are redacted by key wherever they appear in a logged object; device ids
 * belong in logs, never in metric labels.
 */
export function createLogger(
  opts: { service: string; version: string; level: string; format?: LogFormat },
  destination?: pino.DestinationStream,
): Logger {
  const pretty = resolveLogFormat(opts.format ?? 'json') === 'pretty';
  const options: LoggerOptions = {
    level: opts.level,
    base: { service: opts.service, version: opts.version },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: activeTraceFields,
    // pino-pretty reads numeric levels; everything else is better served by the word.
    ...(pretty ? {} : { formatters: { level: (label: string) => ({ level: label }) } }),
    redact: {
      paths: [
        '*.password',
        '*.apiKey',
        '*.api_key',
        '*.authorization',
        'req.headers.authorization',
        'req.headers["x-api-key"]',
      ],
      censor: '***',
    },
  };
  if (!pretty) return destination ? pino(options, destination) : pino(options);
  // In the process (sync), not a transport thread: log lines keep their order with the app's other output.
  const stream = loadPinoPretty()({
    sync: true,
    colorize: destination === undefined && Boolean(process.stdout.isTTY),
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service,version',
    messageFormat: '{service} {msg}',
    ...(destination ? { destination } : {}),
  });
  return pino(options, stream);
}
