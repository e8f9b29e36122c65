import type pg from 'pg';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** All task-processor metric names in one place. */
export function createProcessorMetrics(registry: Registry) {
  const registers = [registry];
  return {
    tasksProcessed: new Counter({
      name: 'telemetryhub_processor_tasks_processed_total',
      help: 'Tasks settled, by type and outcome (acked, retried, dead_lettered).',
      labelNames: ['type', 'outcome'],
      registers,
    }),
    dlqTasks: new Counter({
      name: 'telemetryhub_processor_dlq_tasks_total',
      help: 'Tasks moved to the dead-letter queue, by reason.',
      labelNames: ['reason'],
      registers,
    }),
    expiredReplayed: new Counter({
      name: 'telemetryhub_processor_expired_replayed_total',
      help: 'Expired readings a replay stored (moved from expired_readings into the raw table and rollups).',
      registers,
    }),
    dependencyWaits: new Counter({
      name: 'telemetryhub_processor_dependency_waits_total',
      help: 'Times a batch was held and retried because PostgreSQL (or another dependency) was unavailable.',
      registers,
    }),
    reapedTasks: new Counter({
      name: 'telemetryhub_processor_queue_reaped_tasks_total',
      help: 'Tasks returned to the queue from consumers whose lease expired.',
      registers,
    }),
    fetchBatchSize: new Histogram({
      name: 'telemetryhub_processor_fetch_batch_size_tasks',
      help: 'Tasks taken per fetch.',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
      registers,
    }),
    batchDuration: new Histogram({
      name: 'telemetryhub_processor_batch_duration_seconds',
      help: 'Time to process one fetched batch, from fetch to ack.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    taskWait: new Histogram({
      name: 'telemetryhub_processor_task_wait_seconds',
      help: 'Time from a task’s created_at to the start of its processing.',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers,
    }),
    dbRowsWritten: new Counter({
      name: 'telemetryhub_processor_db_rows_written_total',
      help: 'Rows written to PostgreSQL, by table.',
      labelNames: ['table'],
      registers,
    }),
    alerts: new Counter({
      name: 'telemetryhub_processor_alerts_total',
      help: 'Alert state changes, by rule (max, min, outlier) and action (fire, resolve); not by metric, whose names come from the readings.',
      labelNames: ['rule', 'action'],
      registers,
    }),
    webhooks: new Counter({
      name: 'telemetryhub_processor_alert_webhooks_total',
      help: 'Alert webhook attempts, by outcome (delivered, retried, gave_up).',
      labelNames: ['outcome'],
      registers,
    }),
    duplicateReadings: new Counter({
      name: 'telemetryhub_processor_duplicate_readings_total',
      help: 'Readings skipped because their event_id was already stored (resends, retries).',
      registers,
    }),
    rawInsertFallbacks: new Counter({
      name: 'telemetryhub_processor_raw_insert_fallbacks_total',
      help: 'Batches whose COPY met a reading already stored and were inserted with INSERT … ON CONFLICT instead (slower; expected after retries and resends).',
      registers,
    }),
    lateCorrections: new Counter({
      name: 'telemetryhub_processor_late_corrections_total',
      help: 'Readings stored behind their device’s event-time watermark: their (closed) rollup buckets were amended.',
      registers,
    }),
    expiredReadings: new Counter({
      name: 'telemetryhub_processor_expired_readings_total',
      help: 'Readings older than the expiry horizon, set aside in expired_readings instead of the raw table, by reason.',
      labelNames: ['reason'],
      registers,
    }),
    partitionsCreated: new Counter({
      name: 'telemetryhub_processor_partitions_created_total',
      help: 'Time partitions created (ahead of time or on demand), by table.',
      labelNames: ['table'],
      registers,
    }),
    partitionsDropped: new Counter({
      name: 'telemetryhub_processor_partitions_dropped_total',
      help: 'Time partitions dropped by retention, by table.',
      labelNames: ['table'],
      registers,
    }),
    retentionRuns: new Counter({
      name: 'telemetryhub_processor_retention_runs_total',
      help: 'Partition upkeep runs, by outcome (done, skipped: another replica held the lock, failed).',
      labelNames: ['outcome'],
      registers,
    }),
    foldRuns: new Counter({
      name: 'telemetryhub_processor_fold_runs_total',
      help: 'Deferred folds of stored readings into rollups, outlier state and devices, by source (memory, orphan: read back from raw after a crash) and outcome (done, failed).',
      labelNames: ['source', 'outcome'],
      registers,
    }),
    foldPendingReadings: new Gauge({
      name: 'telemetryhub_processor_fold_pending_readings',
      help: 'Readings stored and held in memory, waiting for the next fold (bounded by FOLD_MAX_READINGS).',
      registers,
    }),
    foldHeldSeconds: new Gauge({
      name: 'telemetryhub_processor_fold_held_seconds',
      help: 'How long the latest fold held its oldest batch: how far rollups, outlier alerts, devices and the latest-value cache trailed the raw rows (FOLD_INTERVAL_MS up to FOLD_MAX_DELAY_MS).',
      registers,
    }),
    foldDuration: new Histogram({
      name: 'telemetryhub_processor_fold_duration_seconds',
      help: 'Time of one fold transaction.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    rollupSealRuns: new Counter({
      name: 'telemetryhub_processor_rollup_seal_runs_total',
      help: 'Runs sealing rollups (minutes from raw readings, hours from minute rows), by granularity and outcome (done, failed).',
      labelNames: ['granularity', 'outcome'],
      registers,
    }),
    rollupBucketsSealed: new Counter({
      name: 'telemetryhub_processor_rollup_buckets_sealed_total',
      help: 'Rollup buckets (minutes, hours) sealed — computed once from what they aggregate — by this process.',
      labelNames: ['granularity'],
      registers,
    }),
    rollupSealedBefore: new Gauge({
      name: 'telemetryhub_processor_rollup_sealed_before_timestamp_seconds',
      help: 'Rollups of each granularity are sealed before this time (Unix seconds); later buckets are computed when read.',
      labelNames: ['granularity'],
      registers,
    }),
    eventVisibleLatency: new Histogram({
      name: 'telemetryhub_processor_event_visible_latency_seconds',
      help: 'From a reading’s event time to its row being stored (the 30 s visibility SLO).',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
  };
}
export type ProcessorMetrics = ReturnType<typeof createProcessorMetrics>;

/** Pool counts as gauges read at scrape time (prom-client `collect`), not on a timer. */
export function registerPoolGauge(registry: Registry, pool: pg.Pool): void {
  new Gauge({
    name: 'telemetryhub_processor_db_pool_connections',
    help: 'PostgreSQL pool connections, by state.',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.set({ state: 'total' }, pool.totalCount);
      this.set({ state: 'idle' }, pool.idleCount);
      this.set({ state: 'waiting' }, pool.waitingCount);
    },
  });
}
