import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * JSON logs to stdout with `service` and `version` on every line. Secrets are redacted by key wherever they
 * appear in a logged object; device ids belong in logs, never in metric labels.
 */
export function createLogger(
  opts: { service: string; version: string; level: string },
  destination?: pino.DestinationStream,
): Logger {
  const options: LoggerOptions = {
    level: opts.level,
    base: { service: opts.service, version: opts.version },
    timestamp: pino.stdTimeFunctions.isoTime,
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
  return destination ? pino(options, destination) : pino(options);
}
