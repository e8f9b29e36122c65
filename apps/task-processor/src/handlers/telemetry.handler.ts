import type pg from 'pg';
import type { Logger } from 'pino';
import { TaskTypes, type Reading } from '@telemetryhub/common';
import { insertReadings } from '../store/raw.repo.js';
import { foldRollups } from '../store/rollup.repo.js';
import { applyAlertActions, firingAlerts, queueAlertNotifications, type AlertRow } from '../store/alert.repo.js';
import type { LatestCache } from '../store/latest.cache.js';
import { DEFAULT_RULES, evaluateRules, type ThresholdRule } from './alert-rules.js';
import type { ParsedTask, TaskHandler } from './task-handler.js';
import { evaluateOutliers, type OutlierConfig } from './outlier-rules.js';
import { lockOutlierState, saveOutlierState } from '../store/outlier.repo.js';
import { PARTITIONED_TABLES, PartitionManager, ROLLUP_SCHEMES } from '../store/partitions.js';
import { partitionMetrics, type ProcessorMetrics } from '../metrics.js';
import { LATE_REASONS, insertLateReadings } from '../store/late.repo.js';
import type { StoredReadingInput } from '../store/raw.repo.js';
import { DEFAULT_ALLOWED_LATENESS_MS, EventTimeWatermarks } from './event-time-watermark.js';

type Step = 'rollup' | 'alert';
const STEP_BIT: Readonly<Record<Step, number>> = { rollup: 1, alert: 2 };

/** What each telemetry task type does after storing its readings (DESIGN.md "Task types"). */
export const STEPS_BY_TYPE: Readonly<Record<string, readonly Step[]>> = {
  [TaskTypes.ANALYZE]: ['rollup', 'alert'],
  [TaskTypes.STORE]: [],
  [TaskTypes.AGGREGATE]: ['rollup'],
  [TaskTypes.ALERT]: ['alert'],
  [TaskTypes.ANOMALY_DETECT]: ['alert'],
};
const stepBits = (type: string) => (STEPS_BY_TYPE[type] ?? []).reduce((bits, s) => bits | STEP_BIT[s], 0);

/** SQLSTATE of "no partition of relation found for row": a partition vanished under our cache (retention). */
const NO_PARTITION_FOR_ROW = '23514';

/**
 * Stores readings (idempotent on event_id), then folds the ones this insert really added into the rollups and
 * runs the alert rules over them — all in one transaction, so a crash or a retry can neither lose nor double a
 * rollup count or an alert: either everything about a reading is committed, or nothing and the task runs again.
 */
export function createTelemetryHandler(deps: {
  pool: pg.Pool;
  metrics: ProcessorMetrics;
  log: Logger;
  rules?: readonly ThresholdRule[];
  /** Newest value per device and metric in Redis, for current queries. */
  latest?: LatestCache;
  /** Alert webhooks: a notification per alert change and URL goes to the outbox in the same transaction. */
  webhookUrls?: readonly string[];
  /** Statistical outliers (running z-score per device and metric) alongside the threshold rules; absent = off. */
  outliers?: OutlierConfig;
  /**
   * Readings older than this (ms before now) go to the late side output (`late_readings`), not to the raw table
   * and rollups: their partition is past retention. Absent = no horizon.
   */
  lateHorizonMs?: number;
  /** Creates the day and month partitions rows land in (default: one of its own over `pool`). */
  partitions?: PartitionManager;
  /** Per-device event-time watermarks that tell late corrections apart (default: 30 s allowed lateness). */
  watermarks?: EventTimeWatermarks;
  /** Observe event-to-visible latency (default true; off for replays of old readings, which would swamp it). */
  observeVisibleLatency?: boolean;
  now?: () => number;
}): TaskHandler {
  const rules = deps.rules ?? DEFAULT_RULES;
  const partitions = deps.partitions ?? new PartitionManager(deps.pool, partitionMetrics(deps.metrics));
  const watermarks = deps.watermarks ?? new EventTimeWatermarks(DEFAULT_ALLOWED_LATENESS_MS);
  const now = deps.now ?? Date.now;
  /** Creates, outside any transaction, the partitions these rows need (a no-op once they exist). */
  const ensurePartitions = async (times: readonly number[], rollup: boolean) => {
    await partitions.ensure(PARTITIONED_TABLES.readings, times);
    if (rollup) for (const scheme of ROLLUP_SCHEMES) await partitions.ensure(scheme, times);
  };
  return {
    name: 'telemetry',
    async handle(tasks: readonly ParsedTask[]): Promise<void> {
      const all = tasks.flatMap((t) => t.readings.map((reading) => ({ reading, taskId: t.header.id })));
      const allMs = all.map((i) => Date.parse(i.reading.event_time));
      const { items, itemsMs, late } = splitByHorizon(all, allMs, deps.lateHorizonMs, now());
      // The steps each event gets: the union over every task in this group that carries it.
      const steps = new Map<string, number>();
      for (const t of tasks) {
        const bits = stepBits(t.header.type);
        for (const r of t.readings) steps.set(r.event_id, (steps.get(r.event_id) ?? 0) | bits);
      }
      let anyRollup = false;
      for (const bits of steps.values()) if (bits & STEP_BIT.rollup) anyRollup = true;
      await ensurePartitions(itemsMs, anyRollup);
      let added = new Set<string>();
      let fresh: Reading[] = [];
      let rollupRows = 0;
      let lateAdded = 0;
      let changedAlerts: AlertRow[] = [];
      for (let attempt = 1; ; attempt++) {
        const client = await deps.pool.connect();
        try {
          await client.query('BEGIN');
          added = await insertReadings(client, items, { onCopyConflict: () => deps.metrics.rawInsertFallbacks.inc() });
          lateAdded = await insertLateReadings(client, late, LATE_REASONS.beyondHorizon);
          fresh = uniqueAdded(
            items.map((i) => i.reading),
            added,
          );
          const toRoll = fresh.filter((r) => (steps.get(r.event_id)! & STEP_BIT.rollup) !== 0);
          const toAlert = fresh.filter((r) => (steps.get(r.event_id)! & STEP_BIT.alert) !== 0);
          if (toRoll.length) rollupRows = await foldRollups(client, toRoll);
          if (toAlert.length) {
            const firing = await firingAlerts(client, [...new Set(toAlert.map((r) => r.device_id))]);
            const actions = evaluateRules(toAlert, rules, firing);
            if (deps.outliers) {
              const states = await lockOutlierState(client, toAlert);
              actions.push(...evaluateOutliers(toAlert, states, firing, deps.outliers));
              await saveOutlierState(client, states);
            }
            changedAlerts = await applyAlertActions(client, actions);
            await queueAlertNotifications(client, changedAlerts, deps.webhookUrls ?? []);
          }
          await client.query('COMMIT');
          break;
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          // A partition our cache knew was dropped (retention on another replica): look again, then retry once.
          if (attempt === 1 && (err as { code?: string }).code === NO_PARTITION_FOR_ROW) {
            partitions.forgetAll();
            await ensurePartitions(itemsMs, anyRollup);
            continue;
          }
          throw err;
        } finally {
          client.release();
        }
      }
      // After the commit: the cache may lag PostgreSQL, never run ahead of it.
      if (deps.latest) await deps.latest.update(fresh);
      deps.metrics.dbRowsWritten.inc({ table: 'readings' }, added.size);
      if (rollupRows) deps.metrics.dbRowsWritten.inc({ table: 'rollups' }, rollupRows);
      if (changedAlerts.length) deps.metrics.dbRowsWritten.inc({ table: 'alerts' }, changedAlerts.length);
      // Counted after the commit, from the rows really changed: a rolled-back attempt counts nothing.
      for (const a of changedAlerts) {
        deps.metrics.alerts.inc({ metric: a.metric, rule: a.rule, action: a.state === 'firing' ? 'fire' : 'resolve' });
      }
      deps.metrics.duplicateReadings.inc(items.length - added.size);
      if (lateAdded) deps.metrics.lateReadings.inc({ reason: LATE_REASONS.beyondHorizon }, lateAdded);
      const freshMs = fresh.map((r) => Date.parse(r.event_time));
      const lateCorrections = watermarks.observe(fresh, freshMs).filter(Boolean).length;
      if (lateCorrections) deps.metrics.lateCorrections.inc(lateCorrections);
      if (deps.observeVisibleLatency === false) return;
      const visibleAt = Date.now();
      for (const ms of freshMs) deps.metrics.eventVisibleLatency.observe(Math.max(0, (visibleAt - ms) / 1000));
    },
  };
}

/** Splits readings into those to store and those older than the horizon (for the late side output). */
function splitByHorizon(
  all: readonly StoredReadingInput[],
  allMs: readonly number[],
  horizonMs: number | undefined,
  nowMs: number,
): { items: readonly StoredReadingInput[]; itemsMs: readonly number[]; late: StoredReadingInput[] } {
  if (horizonMs === undefined) return { items: all, itemsMs: allMs, late: [] };
  const cutoff = nowMs - horizonMs;
  const items: StoredReadingInput[] = [];
  const itemsMs: number[] = [];
  const late: StoredReadingInput[] = [];
  for (let i = 0; i < all.length; i++) {
    if (allMs[i]! < cutoff) late.push(all[i]!);
    else {
      items.push(all[i]!);
      itemsMs.push(allMs[i]!);
    }
  }
  return { items, itemsMs, late };
}

/** The readings whose event_id the insert added, each once (a batch may carry the same reading twice). */
function uniqueAdded(readings: readonly Reading[], added: ReadonlySet<string>): Reading[] {
  const seen = new Set<string>();
  return readings.filter((r) => added.has(r.event_id) && !seen.has(r.event_id) && seen.add(r.event_id));
}
