import express, { Router } from 'express';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context } from '@opentelemetry/api';
import sjson from 'secure-json-parse';
import { AppError, ErrorCodes, ValidationError, contextFrom, tracer } from '@telemetryhub/service-kit';
import { jsonTextHasNoNul, parseEvents, type ParseOptions } from '@telemetryhub/schemas';
import type { ReadingBuffer } from '../buffer/reading-buffer.js';
import { AckTicket, NotDurableError } from '../buffer/ack-ticket.js';
import type { RateLimiter } from './rate-limiter.js';
import { countReadings, type HubMetrics } from '../metrics/hub-metrics.js';

export interface HttpIngestDeps {
  buffer: ReadingBuffer;
  metrics: HubMetrics;
  bodyLimitBytes: number;
  /** Authentication (the API-key guard, built once by createApp); absent = none (local development). */
  auth?: express.RequestHandler;
  /** Per-client limiter (client = API key name, or remote address without keys); absent = no limit. */
  rateLimiter?: RateLimiter;
  /** Options of parseEvents (the clock-skew guard); absent = no skew check. */
  parseOptions?: ParseOptions;
  /**
   * ACK_MODE=durable: answer 202 only once the readings are in Redis or fsync'd to the spool, waiting at most
   * `timeoutMs` (then 503: resend). Absent = ACK_MODE=memory: 202 as soon as they are in the ring buffer.
   */
  durableAck?: { timeoutMs: number };
  /** Each request is a span (continuing the caller's `traceparent`), its readings buffered with it. */
  traced?: boolean;
}

/**
 * The request's span, started before authentication and parsing so it covers them, ended when the answer is sent
 * (or the client goes away). Its context goes on explicitly (res.locals, then the readings' trace origin); the
 * access log line carries its trace id.
 */
function ingestSpan(): express.RequestHandler {
  return (req, res, next) => {
    const span = tracer().startSpan(
      `POST ${req.path}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': 'POST', 'http.route': req.path, 'url.path': req.path },
      },
      contextFrom(req.headers),
    );
    const ctx = trace.setSpan(ROOT_CONTEXT, span);
    res.locals.traceContext = ctx;
    res.locals.traceId = span.spanContext().traceId;
    res.once('close', () => {
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500 || !res.writableFinished) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    next();
  };
}

/** Resolves when the ticket's readings are durable; rejects with NotDurableError when lost or after `ms`. */
async function untilDurable(ticket: AckTicket, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NotDurableError('timeout')), ms);
  });
  try {
    await Promise.race([ticket.done, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `POST /v1/telemetry` (and `/telemetry`, the original path): one event or a batch, in any accepted shape.
 * With API keys configured, 401 without a valid one; with a rate limit, 429 + Retry-After past it.
 * All or nothing: if any event is bad, none is taken and the 400 names every bad field (`events[3].value`), so a
 * client can fix and resend the whole batch without creating duplicates of the good part. 202 when accepted —
 * with a durable ack, once every reading is in Redis or on the spool's disk; a 503 then means "resend" (a resend
 * is deduplicated by event id, so resending what was stored after all costs nothing).
 */
export function httpIngestRouter(deps: HttpIngestDeps): Router {
  const router = Router();
  const guards: express.RequestHandler[] = deps.traced ? [ingestSpan()] : [];
  if (deps.auth) guards.push(deps.auth);
  if (deps.rateLimiter) {
    const limiter = deps.rateLimiter;
    guards.push((req, res, next) => {
      const client = (res.locals.client as string | undefined) ?? `ip:${req.ip}`;
      const wait = limiter.take(client);
      if (wait > 0) {
        deps.metrics.ingestRejected.inc({ reason: 'rate_limited' });
        res.setHeader('Retry-After', String(Math.max(1, Math.ceil(wait))));
        throw new AppError(ErrorCodes.RATE_LIMITED, `rate limit exceeded; retry in ${Math.ceil(wait)} s`);
      }
      next();
    });
  }
  const json = secureJsonBody(deps.bodyLimitBytes);
  const handler: express.RequestHandler = async (req, res) => {
    if (!req.is('application/json') && !req.is('application/*+json')) {
      throw new ValidationError([{ path: '', message: 'Content-Type must be application/json' }]);
    }
    const textHasNoNul = res.locals.jsonTextHasNoNul === true;
    const parsed = parseEvents(req.body, '', { ...deps.parseOptions, textHasNoNul });
    if (parsed.issues.length) {
      deps.metrics.ingestRejected.inc({ reason: 'invalid' }, Math.max(1, parsed.rejected.length));
      throw new ValidationError(parsed.issues);
    }
    const ticket = deps.durableAck ? new AckTicket(parsed.readings.length) : undefined;
    const traceContext = res.locals.traceContext as Context | undefined;
    const origin = traceContext ? { context: traceContext, bufferedAt: Date.now() } : undefined;
    if (traceContext) trace.getSpan(traceContext)?.setAttribute('telemetryhub.readings', parsed.readings.length);
    const accepted = deps.buffer.add(parsed.readings, ticket, origin);
    if (accepted < parsed.readings.length) {
      deps.metrics.ingestRejected.inc({ reason: 'buffer_full' }, parsed.events);
      res.setHeader('Retry-After', '1');
      throw new AppError(ErrorCodes.BACKPRESSURE, 'the hub buffer is full; retry later');
    }
    countReadings(deps.metrics, 'http', parsed.readings.length);
    if (ticket) {
      try {
        await untilDurable(ticket, deps.durableAck!.timeoutMs);
      } catch (err) {
        if (!(err instanceof NotDurableError)) throw err;
        deps.metrics.ingestRejected.inc({ reason: `not_durable_${err.reason}` }, parsed.events);
        res.setHeader('Retry-After', '1');
        throw new AppError(ErrorCodes.BACKPRESSURE, err.message);
      }
    }
    res.status(202).json({ accepted_events: parsed.events, accepted_readings: parsed.readings.length });
  };
  // Authentication and rate limiting come before the body is read: a refused client costs no parsing.
  router.post(['/v1/telemetry', '/telemetry'], ...guards, json, handler);
  return router;
}

/**
 * The JSON body parser: the size limit (413) as express.json, but parsed with secure-json-parse, so a body with a
 * `__proto__` or `constructor.prototype` key is refused (400) instead of reaching code that might merge it.
 */
function secureJsonBody(limit: number): express.RequestHandler[] {
  const text = express.text({ limit, type: ['application/json', 'application/*+json'] });
  const parse: express.RequestHandler = (req, res, next) => {
    if (typeof req.body !== 'string') return next();
    res.locals.jsonTextHasNoNul = jsonTextHasNoNul(req.body);
    try {
      req.body = sjson.parse(req.body, null, { protoAction: 'error', constructorAction: 'error' });
    } catch (err) {
      return next(new AppError(ErrorCodes.INVALID_JSON, (err as Error).message));
    }
    next();
  };
  return [text, parse];
}
