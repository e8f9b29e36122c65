import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { pino, type Logger } from 'pino';
import { createMetricsRegistry, type ApiKeyEntry } from '@telemetryhub/service-kit';
import { type FutureSkewPolicy } from '@telemetryhub/schemas';
import type { BufferPolicy } from './buffer/reading-buffer.js';
import type { DeviceRegistry } from './control/device-registry.js';
import { loadHubConfig, type HubConfig } from './config.js';
import { buildHubIngest } from './build.js';

/**
 * The hub's HTTP side as buildHub wires it (buildHubIngest), from the default configuration with what a test sets,
 * in memory-ack mode (no publisher runs in these tests), with a silent logger and no default process metrics.
 */
export function buildTestHub(
  opts: {
    capacity?: number;
    policy?: BufferPolicy;
    bodyLimitBytes?: number;
    apiKeys?: readonly ApiKeyEntry[];
    rateLimit?: { perSecond: number; burst: number };
    /** The rate limiter's clock (ms). */
    clock?: () => number;
    devices?: DeviceRegistry;
    maxFutureSkewSeconds?: number;
    skewPolicy?: FutureSkewPolicy;
    log?: Logger;
  } = {},
) {
  const config: HubConfig = {
    ...loadHubConfig({ env: {} }),
    ACK_MODE: 'memory',
    BUFFER_CAPACITY: opts.capacity ?? 1000,
    BUFFER_POLICY: opts.policy ?? 'drop-oldest',
    HTTP_BODY_LIMIT_BYTES: opts.bodyLimitBytes ?? 65_536,
    INGEST_API_KEYS: [...(opts.apiKeys ?? [])],
    ...(opts.rateLimit
      ? { INGEST_RATE_LIMIT_PER_SECOND: opts.rateLimit.perSecond, INGEST_RATE_LIMIT_BURST: opts.rateLimit.burst }
      : {}),
    ...(opts.maxFutureSkewSeconds !== undefined ? { MAX_CLOCK_SKEW_SECONDS: opts.maxFutureSkewSeconds } : {}),
    ...(opts.skewPolicy ? { CLOCK_SKEW_POLICY: opts.skewPolicy } : {}),
  };
  const registry = createMetricsRegistry({ service: 'telemetryhub-hub', version: 'test', defaultMetrics: false });
  const log = opts.log ?? pino({ level: 'silent' });
  const parts = buildHubIngest(config, {
    log,
    registry,
    ...(opts.devices ? { devices: opts.devices } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  return { ...parts, log, config };
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
