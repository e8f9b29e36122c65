import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** All hub metric names in one place (Prometheus conventions: base units, `_total` counters, few labels). */
export function createHubMetrics(registry: Registry) {
  const registers = [registry];
  return {
    readings: new Counter({
      name: 'telemetryhub_hub_readings_total',
      help: 'Readings taken in, by source: a configured driver, or the ingest path (http, mqtt). Not by metric: metric names come from clients, and a label must not let a client mint series.',
      labelNames: ['source'],
      registers,
    }),
    bufferReadings: new Gauge({
      name: 'telemetryhub_hub_buffer_readings',
      help: 'Readings waiting in the ring buffer.',
      registers,
    }),
    bufferCapacity: new Gauge({
      name: 'telemetryhub_hub_buffer_capacity_readings',
      help: 'Capacity of the ring buffer, in readings.',
      registers,
    }),
    bufferDropped: new Counter({
      name: 'telemetryhub_hub_buffer_dropped_readings_total',
      help: 'Readings lost or refused at the ring buffer, by reason (overflow = evicted oldest, rejected = refused).',
      labelNames: ['reason'],
      registers,
    }),
    driverErrors: new Counter({
      name: 'telemetryhub_hub_driver_errors_total',
      help: 'Sensor driver errors, by driver and kind (malformed_frame: skipped; read_failed: a failed sensor read; disconnected: port or bus lost).',
      labelNames: ['driver', 'kind'],
      registers,
    }),
    simulatedAnomalies: new Counter({
      name: 'telemetryhub_hub_simulated_anomalies_total',
      help: 'Misbehaviour the simulator injected on demand (SIM_*_RATE), by kind: what downstream checks should find.',
      labelNames: ['kind'],
      registers,
    }),
    driverReconnects: new Counter({
      name: 'telemetryhub_hub_driver_reconnects_total',
      help: 'Ports or buses a sensor driver opened again after losing them.',
      labelNames: ['driver'],
      registers,
    }),
    clockSkewEvents: new Counter({
      name: 'telemetryhub_hub_clock_skew_events_total',
      help: 'Events stamped further in the future than MAX_CLOCK_SKEW_SECONDS, by action (rejected, clamped).',
      labelNames: ['action'],
      registers,
    }),
    ingestRejected: new Counter({
      name: 'telemetryhub_hub_ingest_rejected_events_total',
      help: 'Events refused at ingest, by reason.',
      labelNames: ['reason'],
      registers,
    }),
    publishDuration: new Histogram({
      name: 'telemetryhub_hub_publish_duration_seconds',
      help: 'Time to publish one flush (a pipeline of LPUSH batches) to Redis.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    publishedTasks: new Counter({
      name: 'telemetryhub_hub_published_tasks_total',
      help: 'Tasks published to the queue.',
      registers,
    }),
    publishedReadings: new Counter({
      name: 'telemetryhub_hub_published_readings_total',
      help: 'Readings published to the queue.',
      registers,
    }),
    publishErrors: new Counter({
      name: 'telemetryhub_hub_publish_errors_total',
      help: 'Failed publish attempts (the batch is kept and retried).',
      registers,
    }),
    heldReadings: new Gauge({
      name: 'telemetryhub_hub_publish_held_readings',
      help: 'Readings taken from the buffer and not yet confirmed by Redis.',
      registers,
    }),
    mqttConnected: new Gauge({
      name: 'telemetryhub_hub_mqtt_connected',
      help: '1 while MQTT ingest is connected to its broker, else 0.',
      registers,
    }),
    circuitOpen: new Gauge({
      name: 'telemetryhub_hub_publish_circuit_open',
      help: '1 while the disk spool holds tasks, so publishing goes through it (after Redis was unreachable or the queue full), else 0.',
      registers,
    }),
    spoolRecords: new Gauge({
      name: 'telemetryhub_hub_spool_records',
      help: 'Tasks in the disk spool waiting to be replayed to Redis.',
      registers,
    }),
    spoolBytes: new Gauge({
      name: 'telemetryhub_hub_spool_bytes',
      help: 'Bytes in the disk spool waiting to be replayed to Redis.',
      registers,
    }),
    spoolCapacity: new Gauge({
      name: 'telemetryhub_hub_spool_capacity_bytes',
      help: 'Capacity of the disk spool (SPOOL_MAX_BYTES).',
      registers,
    }),
    spoolWrittenTasks: new Counter({
      name: 'telemetryhub_hub_spool_written_tasks_total',
      help: 'Tasks written to the disk spool.',
      registers,
    }),
    spoolReplayedTasks: new Counter({
      name: 'telemetryhub_hub_spool_replayed_tasks_total',
      help: 'Tasks replayed from the disk spool to Redis.',
      registers,
    }),
    spoolDropped: new Counter({
      name: 'telemetryhub_hub_spool_dropped_readings_total',
      help: 'Readings dropped because the disk spool was full (lowest priority first).',
      labelNames: ['reason'],
      registers,
    }),
    spoolQuarantined: new Counter({
      name: 'telemetryhub_hub_spool_quarantined_records_total',
      help: 'Spool records found damaged (torn write, checksum mismatch), moved to quarantine and skipped.',
      registers,
    }),
  };
}
export type HubMetrics = ReturnType<typeof createHubMetrics>;

/** Counts readings taken in by a source (a driver's name, `http` or `mqtt`). */
export function countReadings(metrics: HubMetrics, source: string, count: number): void {
  if (count > 0) metrics.readings.inc({ source }, count);
}
