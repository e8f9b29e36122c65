import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import {
  notFoundHandler,
  opsRouter,
  problemMiddleware,
  type Readiness,
  apiKeyAuth,
  accessLog,
  type AccessLogMode,
  type ApiKeyEntry,
} from '@telemetryhub/service-kit';
import type { ReadingBuffer } from './buffer/reading-buffer.js';
import type { HubMetrics } from './metrics/hub-metrics.js';
import { httpIngestRouter } from './ingest/http-ingest.route.js';
import { deviceControlRouter } from './control/device-control.routes.js';
import type { DeviceRegistry } from './control/device-registry.js';
import type { RateLimiter } from './ingest/rate-limiter.js';
import type { ClockSkewGuard } from './ingest/clock-skew-guard.js';

export interface HubAppDeps {
  log: Logger;
  registry: Registry;
  metrics: HubMetrics;
  readiness: Readiness;
  buffer: ReadingBuffer;
  bodyLimitBytes: number;
  apiKeys?: readonly ApiKeyEntry[];
  rateLimiter?: RateLimiter;
  /** The clock-skew guard of both ingest paths (its per-device table is served at GET /v1/clock-skew). */
  skewGuard?: ClockSkewGuard;
  devices: DeviceRegistry;
  /** ACK_MODE=durable (see HttpIngestDeps.durableAck); absent = memory. */
  durableAck?: { timeoutMs: number };
  /** Tracing is on: each ingest request is a span, and its readings carry it to the task that publishes them. */
  traced?: boolean;
  /** The access log (ACCESS_LOG, ACCESS_LOG_SAMPLE_RATE); absent = off (tests). */
  accessLog?: { mode: AccessLogMode; sampleRate: number };
}

/** The hub's HTTP API, without listen() and without process.env: tests build it with their own deps. */
export function createApp(deps: HubAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // No ETag: nothing the hub serves is cached, and Express would hash every 202 body to make one.
  app.set('etag', false);
  app.use(accessLog(deps.log, deps.accessLog ?? { mode: 'off', sampleRate: 0 }));
  app.use(opsRouter(deps));
  // One API-key guard for ingest and device control (absent without keys: local development).
  const auth = deps.apiKeys?.length
    ? apiKeyAuth(deps.apiKeys, () => deps.metrics.ingestRejected.inc({ reason: 'unauthorized' }))
    : undefined;
  app.use(
    httpIngestRouter({
      ...deps,
      ...(auth ? { auth } : {}),
      ...(deps.skewGuard ? { parseOptions: deps.skewGuard.parseOptions } : {}),
    }),
  );
  app.get('/v1/clock-skew', ...(auth ? [auth] : []), (_req, res) => {
    res.json({ devices: deps.skewGuard?.snapshot() ?? [] });
  });
  app.use(
    deviceControlRouter({
      registry: deps.devices,
      metrics: deps.metrics,
      buffer: deps.buffer,
      ...(auth ? { guard: auth } : {}),
    }),
  );
  app.use(notFoundHandler());
  app.use(problemMiddleware(deps.log));
  return app;
}
