import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import { createRequire } from 'node:module';
import type { pinoHttp as PinoHttp } from 'pino-http';

/** Loaded by the apps that log requests, not by everything that imports the service kit (the CLI). */
const loadPinoHttp = () => (createRequire(import.meta.url)('pino-http') as { pinoHttp: typeof PinoHttp }).pinoHttp;

/** `all`: every request (successes sampled); `errors`: answers ≥ 400 only; `off`. */
export const ACCESS_LOG_MODES = ['all', 'errors', 'off'] as const;
export type AccessLogMode = (typeof ACCESS_LOG_MODES)[number];

/** A caller's request id is kept when it is a plain token; anything else gets a new one. */
const REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;
/** Probes and scrapes: every few seconds from every kubelet and Prometheus, never worth a line. */
const QUIET_PATHS = new Set(['/health', '/ready', '/metrics']);

/**
 * One line per HTTP request (pino-http), when it is answered: its id (the caller's `X-Request-Id` when it is a plain
 * token, else a new UUID; echoed in the response either way), method, path, status, duration (`responseTime`, ms)
 * the client — the API key's name (`key:<name>`), never the key — and the `trace_id` of a traced request. Answers ≥ 500 log as errors, ≥ 400 as
 * warnings, always (in `all` and `errors`); successes log in `all`, a `sampleRate` share of them (an ingest hub
 * answers thousands of requests a second). Health probes and metric scrapes are not logged. `off` (or a rate of 0
 * with `errors`) adds nothing to a request but its id.
 */
export function accessLog(
  log: Logger,
  opts: { mode: AccessLogMode; sampleRate: number; random?: () => number },
): RequestHandler {
  const random = opts.random ?? Math.random;
  const genReqId = (req: IncomingMessage, res: ServerResponse) => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', id);
    return id;
  };
  if (opts.mode === 'off') {
    return (req, res, next) => {
      (req as IncomingMessage & { id?: string }).id = genReqId(req, res);
      next();
    };
  }
  const middleware = loadPinoHttp()({
    logger: log,
    genReqId,
    quietReqLogger: true,
    autoLogging: { ignore: (req) => QUIET_PATHS.has((req.url ?? '').split('?')[0]!) },
    customLogLevel: (_req, res, err) => {
      if (err || res.statusCode >= 500) return 'error';
      if (res.statusCode >= 400) return 'warn';
      return opts.mode === 'all' && opts.sampleRate > 0 && random() < opts.sampleRate ? 'info' : 'silent';
    },
    customSuccessMessage: (req, res) => `${req.method} ${pathOf(req)} ${res.statusCode}`,
    customErrorMessage: (req, res) => `${req.method} ${pathOf(req)} ${res.statusCode}`,
    customProps: (_req, res) => {
      const locals = (res as ServerResponse & { locals?: { client?: string; traceId?: string } }).locals;
      return {
        ...(locals?.client ? { client: locals.client } : {}),
        ...(locals?.traceId ? { trace_id: locals.traceId } : {}),
      };
    },
    serializers: {
      // The id is on the line already (`reqId`), for every line logged while the request runs.
      req: (req: { method: string; url: string; remoteAddress?: string }) => ({
        method: req.method,
        path: req.url.split('?')[0],
        remote: req.remoteAddress,
      }),
      res: (res: { statusCode: number }) => ({ status: res.statusCode }),
    },
  });
  return middleware as unknown as RequestHandler;
}

/** The path without its query (a query may carry what is not ours to log). */
function pathOf(req: IncomingMessage): string {
  return ((req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '').split('?')[0]!;
}
