import type { HubMetrics } from '../metrics.js';

/** What goes wrong on a sensor link, as counted in `telemetry_hub_driver_errors_total{kind}`. */
export type DriverErrorKind = 'malformed_frame' | 'read_failed' | 'disconnected';

/** The metrics a driver reports into (optional: unit tests of a driver need none). */
export type DriverMetrics = Pick<HubMetrics, 'driverErrors' | 'driverReconnects' | 'simulatedAnomalies'>;
