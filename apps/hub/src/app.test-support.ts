import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { pino, type Logger } from 'pino';
import { Readiness, createMetricsRegistry, type ApiKeyEntry } from '@telemetryhub/service-kit';
import { type FutureSkewPolicy } from '@telemetryhub/schemas';
import { ClockSkewGuard } from './ingest/clock-skew-guard.js';
import { createHubMetrics } from './metrics/hub-metrics.js';
import { ReadingBuffer, type BufferPolicy } from './buffer/reading-buffer.js';
import { createApp } from './app.js';
import type { RateLimiter } from './ingest/rate-limiter.js';
import { DeviceRegistry } from './control/device-registry.js';

/** A hub app wired with in-memory deps and a silent logger, for tests. */
export function buildTestHub(
  opts: {
    capacity?: number;
    policy?: BufferPolicy;
    bodyLimitBytes?: number;
    apiKeys?: readonly ApiKeyEntry[];
    rateLimiter?: RateLimiter;
    devices?: DeviceRegistry;
    maxFutureSkewMs?: number;
    skewPolicy?: FutureSkewPolicy;
    log?: Logger;
  } = {},
) {
  const devices = opts.devices ?? new DeviceRegistry(5);
  const registry = createMetricsRegistry({ prefix: 'telemetry_hub', version: 'test', defaultMetrics: false });
  const metrics = createHubMetrics(registry);
  const buffer = new ReadingBuffer(opts.capacity ?? 1000, opts.policy ?? 'drop-oldest', metrics);
  const readiness = new Readiness();
  const log = opts.log ?? pino({ level: 'silent' });
  const skewGuard =
    opts.maxFutureSkewMs === undefined
      ? undefined
      : new ClockSkewGuard({ maxFutureSkewMs: opts.maxFutureSkewMs, policy: opts.skewPolicy ?? 'reject', metrics });
  const app = createApp({
    log,
    registry,
    metrics,
    readiness,
    buffer,
    bodyLimitBytes: opts.bodyLimitBytes ?? 65_536,
    devices,
    ...(opts.apiKeys ? { apiKeys: opts.apiKeys } : {}),
    ...(opts.rateLimiter ? { rateLimiter: opts.rateLimiter } : {}),
    ...(skewGuard ? { skewGuard } : {}),
  });
  return { app, buffer, metrics, registry, readiness, log, devices, skewGuard };
}

/** Listens on an ephemeral loopback port; returns the base URL and a close function. */
export async function listen(app: Express): Promise<{ url: string; close: () => Promise<void> }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
