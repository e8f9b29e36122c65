import type pg from 'pg';
import type { Logger } from 'pino';
import { TaskTypes, type Reading } from '@telemetryhub/common';
import { insertReadings } from '../store/raw.repo.js';
import { foldRollups } from '../store/rollup.repo.js';
import { applyAlertActions, firingAlerts, queueAlertNotifications, type AlertRow } from '../store/alert.repo.js';
import type { LatestCache } from '../store/latest.cache.js';
import type { ProcessorMetrics } from '../metrics.js';
import { DEFAULT_RULES, evaluateRules, type ThresholdRule } from './alert-rules.js';
import type { ParsedTask, TaskHandler } from './task-handler.js';
import { evaluateOutliers, type OutlierConfig } from './outlier-rules.js';
import { lockOutlierState, saveOutlierState } from '../store/outlier.repo.js';

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
}): TaskHandler {
  const rules = deps.rules ?? DEFAULT_RULES;
  return {
    name: 'telemetry',
    async handle(tasks: readonly ParsedTask[]): Promise<void> {
      const items = tasks.flatMap((t) => t.readings.map((reading) => ({ reading, taskId: t.header.id })));
      // The steps each event gets: the union over every task in this group that carries it.
      const steps = new Map<string, number>();
      for (const t of tasks) {
        const bits = stepBits(t.header.type);
        for (const r of t.readings) steps.set(r.event_id, (steps.get(r.event_id) ?? 0) | bits);
      }
      const client = await deps.pool.connect();
      let added: Set<string>;
      let fresh: Reading[] = [];
      let rollupRows = 0;
      let changedAlerts: AlertRow[] = [];
      try {
        await client.query('BEGIN');
        added = await insertReadings(client, items);
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
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
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
      const now = Date.now();
      for (const r of fresh) {
        deps.metrics.eventVisibleLatency.observe(Math.max(0, (now - Date.parse(r.event_time)) / 1000));
      }
    },
  };
}

/** The readings whose event_id the insert added, each once (a batch may carry the same reading twice). */
function uniqueAdded(readings: readonly Reading[], added: ReadonlySet<string>): Reading[] {
  const seen = new Set<string>();
  return readings.filter((r) => added.has(r.event_id) && !seen.has(r.event_id) && seen.add(r.event_id));
}
