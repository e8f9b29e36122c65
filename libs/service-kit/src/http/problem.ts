import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { AppError, ErrorCodes, ValidationError, type ErrorCode, type FieldIssue } from '../errors/index.js';
import { requestIdOf, requestPathOf } from './access-log.js';

/** RFC 9457 problem details. `errors` names each bad field (the extension most APIs use). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldIssue[];
  [extension: string]: unknown;
}

const STATUS: Record<ErrorCode, number> = {
  [ErrorCodes.VALIDATION]: 400,
  [ErrorCodes.INVALID_STATE]: 400,
  [ErrorCodes.CONFLICT]: 409,
  [ErrorCodes.INVALID_JSON]: 400,
  [ErrorCodes.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCodes.UNKNOWN_TYPE]: 400,
  [ErrorCodes.NOT_FOUND]: 404,
  [ErrorCodes.UNAUTHORIZED]: 401,
  [ErrorCodes.FORBIDDEN]: 403,
  [ErrorCodes.RATE_LIMITED]: 429,
  [ErrorCodes.BACKPRESSURE]: 503,
  [ErrorCodes.DEPENDENCY_UNAVAILABLE]: 503,
  [ErrorCodes.CONFIG]: 500,
  [ErrorCodes.INTERNAL]: 500,
};

const TITLES: Record<ErrorCode, string> = {
  [ErrorCodes.VALIDATION]: 'Request body failed validation',
  [ErrorCodes.INVALID_STATE]: 'Not allowed in the current state',
  [ErrorCodes.CONFLICT]: 'Conflicts with work already in progress',
  [ErrorCodes.INVALID_JSON]: 'Request body is not valid JSON',
  [ErrorCodes.PAYLOAD_TOO_LARGE]: 'Request body too large',
  [ErrorCodes.UNKNOWN_TYPE]: 'Unknown type',
  [ErrorCodes.NOT_FOUND]: 'Not found',
  [ErrorCodes.UNAUTHORIZED]: 'Missing or invalid API key',
  [ErrorCodes.FORBIDDEN]: 'Not allowed',
  [ErrorCodes.RATE_LIMITED]: 'Too many requests',
  [ErrorCodes.BACKPRESSURE]: 'Service is shedding load',
  [ErrorCodes.DEPENDENCY_UNAVAILABLE]: 'A dependency is unavailable',
  [ErrorCodes.CONFIG]: 'Server misconfigured',
  [ErrorCodes.INTERNAL]: 'Internal error',
};

export function sendProblem(res: Response, problem: Problem): void {
  res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
}

export function problemFor(code: ErrorCode, detail: string, extra: Record<string, unknown> = {}): Problem {
  return { type: `urn:telemetryhub:error:${code}`, title: TITLES[code], status: STATUS[code], detail, ...extra };
}

/** Body-parser errors carry a `type` and `status`; map them to our codes instead of leaking a stack. */
function fromBodyParser(err: { type?: string; status?: number; message?: string; limit?: number }): Problem | null {
  if (err.type === 'entity.too.large') {
    return problemFor(ErrorCodes.PAYLOAD_TOO_LARGE, `the body exceeds the limit of ${err.limit} bytes`);
  }
  if (err.type === 'entity.parse.failed') return problemFor(ErrorCodes.INVALID_JSON, err.message ?? 'invalid JSON');
  if (err.type === 'encoding.unsupported' || err.type === 'charset.unsupported') {
    return { ...problemFor(ErrorCodes.VALIDATION, err.message ?? 'unsupported encoding'), status: 415 };
  }
  return null;
}

/**
 * Other client errors Express and its body readers raise with a 4xx `status` (http-errors): a path with malformed
 * percent-encoding, a body whose Content-Encoding does not match its bytes, a client hanging up mid-body. They are
 * the client's mistake: a 4xx naming it, never a 500.
 */
function fromClientHttpError(err: { status?: unknown; statusCode?: unknown; message?: string }): Problem | null {
  const status = typeof err.status === 'number' ? err.status : err.statusCode;
  if (typeof status !== 'number' || status < 400 || status > 499) return null;
  const code = status === 413 ? ErrorCodes.PAYLOAD_TOO_LARGE : ErrorCodes.VALIDATION;
  return { ...problemFor(code, err.message ?? 'bad request'), status };
}

/** At most this many field problems in one answer: a body of 10,000 bad events must not get a 4 MB reply. */
export const MAX_PROBLEMS_SHOWN = 100;

/** Client errors are logged at info, at most once per this many ms (with how many were not logged). */
const CLIENT_ERROR_LOG_INTERVAL_MS = 10_000;

/**
 * The one error middleware: AppError code → status, every answer problem+json (field problems bounded to the
 * first MAX_PROBLEMS_SHOWN, with the total), 5xx logged with the error, client errors at info and rate-limited so
 * that no client can flood the log.
 */
export function problemMiddleware(log: Logger): ErrorRequestHandler {
  let lastClientLog = 0;
  let unlogged = 0;
  return (err, req, res, _next) => {
    let problem: Problem;
    if (err instanceof ValidationError) {
      const shown = err.issues.slice(0, MAX_PROBLEMS_SHOWN);
      problem = problemFor(err.code, err.message, {
        errors: shown,
        ...(shown.length < err.issues.length ? { errors_total: err.issues.length } : {}),
      });
    } else if (err instanceof AppError) {
      problem = problemFor(err.code, err.message);
    } else {
      problem =
        fromBodyParser(err) ??
        fromClientHttpError(err) ??
        problemFor(ErrorCodes.INTERNAL, 'unexpected error; see the server log');
    }
    if (problem.status >= 500) {
      log.error({ err, reqId: requestIdOf(req), method: req.method, path: requestPathOf(req) }, 'request failed');
    } else if (!(err instanceof AppError)) {
      const now = Date.now();
      if (now - lastClientLog >= CLIENT_ERROR_LOG_INTERVAL_MS) {
        log.info(
          {
            reqId: requestIdOf(req),
            status: problem.status,
            reason: problem.detail,
            method: req.method,
            suppressed: unlogged,
          },
          'client error',
        );
        lastClientLog = now;
        unlogged = 0;
      } else {
        unlogged++;
      }
    }
    if (res.headersSent) return;
    sendProblem(res, problem);
  };
}

/** 404 for every unmatched route, as problem+json. */
export function notFoundHandler(): RequestHandler {
  return (req, res) => sendProblem(res, problemFor(ErrorCodes.NOT_FOUND, `no route for ${req.method} ${req.path}`));
}
