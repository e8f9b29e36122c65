import { Registry, Gauge, collectDefaultMetrics } from 'prom-client';

/** The one prefix of every TelemetryHub metric: `telemetryhub_<component>_<name>_<unit>`. */
export const METRIC_PREFIX = 'telemetryhub';

/**
 * A registry per app (never the global one, so tests can build many apps in one process), with Node's default
 * process metrics under their standard names (`process_*`, `nodejs_*`: stock Node.js dashboards and alerts find
 * them) labelled `service`, and a `telemetryhub_build_info{service, version, node_version}` gauge.
 */
export function createMetricsRegistry(opts: { service: string; version: string; defaultMetrics?: boolean }): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, labels: { service: opts.service } });
  const info = new Gauge({
    name: `${METRIC_PREFIX}_build_info`,
    help: 'Build information; always 1.',
    labelNames: ['service', 'version', 'node_version'],
    registers: [registry],
  });
  info.set({ service: opts.service, version: opts.version, node_version: process.version }, 1);
  return registry;
}
