import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { AppError, ErrorCodes, ValidationError, type ErrorCode, type FieldIssue } from '../errors/index.js';

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

/** The one error middleware: AppError code → status, every answer problem+json, 5xx logged with the error. */
export function problemMiddleware(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let problem: Problem;
    if (err instanceof ValidationError) {
      problem = problemFor(err.code, err.message, { errors: err.issues });
    } else if (err instanceof AppError) {
      problem = problemFor(err.code, err.message);
    } else {
      problem = fromBodyParser(err) ?? problemFor(ErrorCodes.INTERNAL, 'unexpected error; see the server log');
    }
    if (problem.status >= 500) log.error({ err, method: req.method, url: req.originalUrl }, 'request failed');
    if (res.headersSent) return;
    sendProblem(res, problem);
  };
}

/** 404 for every unmatched route, as problem+json. */
export function notFoundHandler(): RequestHandler {
  return (req, res) => sendProblem(res, problemFor(ErrorCodes.NOT_FOUND, `no route for ${req.method} ${req.path}`));
}
