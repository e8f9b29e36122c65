import express, { type Express } from 'express';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import {
  ErrorCodes,
  Readiness as ReadinessChecks,
  apiKeyAuth,
  accessLog,
  notFoundHandler,
  problemFor,
  sendProblem,
  opsRouter,
  problemMiddleware,
  type AccessLogMode,
  type ApiKeyEntry,
  type Readiness,
} from '@telemetryhub/service-kit';
import { type DeadLetterAdmin } from '@telemetryhub/queue';
import { queryRouter } from './api/query.routes.js';
import { expiredRouter } from './api/expired.routes.js';
import { rangeRouter } from './api/range.routes.js';
import { dlqRouter } from './api/dlq.routes.js';
import type { ExpiredReplayer } from './expired/expired-replay.js';
import type { LatestCache } from './store/latest.cache.js';
import type { DevicePseudonymizer } from './privacy/device-pseudonymizer.js';

export interface ProcessorAppDeps {
  log: Logger;
  registry: Registry;
  readiness: Readiness;
  pool: pg.Pool;
  latest?: LatestCache;
  pseudonymizer?: DevicePseudonymizer;
  /** Replays expired readings (POST /v1/expired-readings/replay); absent = 404. */
  expiredReplayer?: ExpiredReplayer;
  /** The queue's dead letters, for the admin API (`/v1/dlq…`); absent = 404. */
  dlq?: DeadLetterAdmin;
  /** ADMIN_API_KEYS: who may use the admin API; none = it refuses every request. */
  adminKeys?: readonly ApiKeyEntry[];
  /** QUERY_API_KEYS: when any, every other `/v1` route needs one of these (or an admin key); none = open. */
  queryKeys?: readonly ApiKeyEntry[];
  /** The access log (ACCESS_LOG, ACCESS_LOG_SAMPLE_RATE); absent = off (tests). */
  accessLog?: { mode: AccessLogMode; sampleRate: number };
}

/** The processor's HTTP API (ops endpoints, queries, admin), without listen() and without process.env. */
export function createApp(deps: ProcessorAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(accessLog(deps.log, deps.accessLog ?? { mode: 'off', sampleRate: 0 }));
  app.use(opsRouter(deps)); // /health, /ready, /metrics: never behind a key (probes and scrapers)
  if (deps.queryKeys?.length) {
    const readers = apiKeyAuth([...deps.queryKeys, ...(deps.adminKeys ?? [])], () => {});
    // The admin API (the DLQ, the replay of expired readings) checks its own keys.
    const admin = (path: string) =>
      path === '/dlq' ||
      path.startsWith('/dlq/') ||
      path === '/expired-readings/replay' ||
      path === '/late-readings/replay';
    app.use('/v1', (req, res, next) => (admin(req.path) ? next() : readers(req, res, next)));
  }
  app.use(queryRouter(deps));
  app.use(rangeRouter(deps));
  app.use(dlqRouter(deps));
  app.use(expiredRouter(deps));
  app.use(notFoundHandler());
  app.use(problemMiddleware(deps.log));
  return app;
}

/**
 * What the processor serves while it starts (waiting for PostgreSQL, migrating): `/health` answers — the process
 * is alive, so an orchestrator does not restart it in a loop through a long database outage — while `/ready`
 * says why it is not ready, and every other route is a 503. main() swaps in the full app on the same server.
 */
export function createStartingApp(deps: { registry: Registry; waitingFor: () => string }): Express {
  const app = express();
  app.disable('x-powered-by');
  const readiness = new ReadinessChecks().register('startup', async () => {
    throw new Error(deps.waitingFor());
  });
  app.use(opsRouter({ readiness, registry: deps.registry }));
  app.use((_req, res) => {
    res.setHeader('Retry-After', '5');
    sendProblem(res, problemFor(ErrorCodes.DEPENDENCY_UNAVAILABLE, `starting: ${deps.waitingFor()}`));
  });
  return app;
}
