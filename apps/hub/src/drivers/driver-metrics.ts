import type { HubMetrics } from '../metrics/hub-metrics.js';

/** The metrics a driver reports into (optional: unit tests of a driver need none). */
export type DriverMetrics = Pick<HubMetrics, 'driverErrors' | 'driverReconnects' | 'simulatedAnomalies'>;
