import { Registry, Gauge, collectDefaultMetrics } from 'prom-client';

/**
 * A registry per app (never the global one, so tests can build many apps in one process), with Node's default
 * process metrics and a `<prefix>_build_info` gauge.
 */
export function createMetricsRegistry(opts: { prefix: string; version: string; defaultMetrics?: boolean }): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: `${opts.prefix}_` });
  const info = new Gauge({
    name: `${opts.prefix}_build_info`,
    help: 'Build information; always 1.',
    labelNames: ['version', 'node_version'],
    registers: [registry],
  });
  info.set({ version: opts.version, node_version: process.version }, 1);
  return registry;
}
