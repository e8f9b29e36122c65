import type pg from 'pg';
import { SpanKind, SpanStatusCode, context } from '@opentelemetry/api';
import { tracer } from '@telemetryhub/service-kit';
import type { Logger } from 'pino';
import { TaskTypes, instantMs, type Reading } from '@telemetryhub/schemas';
import { AddedEventIds, NO_READINGS, ReadingRows, insertReadings, type ReadingsToStore } from '../store/raw.repo.js';
import { applyAlertActions, firingAlerts, queueAlertNotifications, type AlertRow } from '../alerts/alert.repo.js';
import { DEFAULT_RULES, evaluateRules, type ThresholdRule } from '../alerts/alert-rules.js';
import type { ParsedTask, TaskHandler } from '../domain/task.js';
import type { OutlierConfig } from '../outliers/outlier-rules.js';
import { PARTITIONED_TABLES, PartitionManager, ROLLUP_SCHEMES } from '../store/partitions.js';
import type { ProcessorMetrics } from '../metrics/processor-metrics.js';
import { partitionMetrics } from '../store/partition-upkeep.js';
import { EXPIRY_REASONS, insertExpiredReadings } from '../expired/expired.repo.js';
import { insertTaskStatistics } from '../stats/task-statistics.repo.js';
import { DEFAULT_ALLOWED_LATENESS_MS, EventTimeWatermarks } from '../late/event-time-watermark.js';
import {
  FOLD_STEP,
  applyFold,
  leaveOpenMinutesToSeal,
  rolledUpMinutes,
  type FoldOutcome,
  type FoldWork,
} from '../fold/fold-work.js';
import { sealShared } from '../store/rollup-seal.repo.js';
import { FoldAggregate } from '../fold/fold-aggregate.js';
import type { DeferredFold, StagedBatch, TaskSteps } from '../fold/deferred-fold.js';

type Step = 'rollup' | 'alert';
/** A task type's steps as fold bits: `alert` runs the threshold rules here and the outlier detector in the fold. */
const STEP_BIT: Readonly<Record<Step, number>> = { rollup: FOLD_STEP.rollup, alert: FOLD_STEP.outliers };

/** What each telemetry task type does after storing its readings (libs/queue/README.md, "Task types"). */
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
 * Stores readings (idempotent on event_id) and runs the threshold rules over the ones this insert really added,
 * in one transaction, so a crash or a retry can neither lose nor double a reading or an alert. The same readings
 * are folded into outlier state and devices exactly once: in this transaction, or — with `fold` — a beat later by
 * the deferred fold, many batches at a time, through a ledger row written in this transaction
 * (fold/deferred-fold.ts). Into the rollups too, if their minute is already sealed (late readings); the others'
 * minutes are sealed from these raw rows once over (store/rollup-sealer.ts).
 */
export function createTelemetryHandler(deps: {
  pool: pg.Pool;
  metrics: ProcessorMetrics;
  log: Logger;
  rules?: readonly ThresholdRule[];
  /** Alert webhooks: a notification per alert change and URL goes to the outbox in the same transaction. */
  webhookUrls?: readonly string[];
  /** Statistical outliers (running z-score per device and metric) alongside the threshold rules; absent = off. */
  outliers?: OutlierConfig;
  /**
   * Folds rollups, outliers and devices after the commit, many batches at a time, and writes the latest-value
   * cache; absent = folded in the batch, and no cache.
   */
  fold?: DeferredFold;
  /**
   * Readings older than this (ms before now) are expired: set aside in `expired_readings`, not in the raw table
   * and rollups: their partition is past retention. Absent = no horizon.
   */
  expiryHorizonMs?: number;
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
  const foldSettings = { ...(deps.outliers ? { outliers: deps.outliers } : {}), webhookUrls: deps.webhookUrls ?? [] };
  /** Creates, outside any transaction, the partitions these rows need (a no-op once they exist). */
  const ensurePartitions = async (times: readonly number[], rollup: boolean, statisticsTimes: readonly number[]) => {
    await partitions.ensure(PARTITIONED_TABLES.readings, times);
    if (rollup) for (const scheme of ROLLUP_SCHEMES) await partitions.ensure(scheme, times);
    await partitions.ensure(PARTITIONED_TABLES.task_statistics, statisticsTimes);
  };
  return {
    name: 'telemetry',
    async handle(tasks: readonly ParsedTask[]): Promise<void> {
      const stepsOf = eventSteps(tasks);
      const all = toStore(tasks, stepsOf);
      // Decoded readings carry canonical instants: read field by field, twice as fast as Date.parse.
      const allMs = all.readings.map((r) => instantMs(r.event_time));
      const { items, itemsMs, expired } = splitByHorizon(all, allMs, deps.expiryHorizonMs, now());
      // Rollup partitions are needed here only when this transaction folds; the deferred fold ensures its own.
      const anyRollup = !deps.fold && tasks.some((t) => stepBits(t.header.type) & STEP_BIT.rollup);
      // Per-batch statistics (telemetry.analyze), kept as long as raw readings: not for tasks older than that.
      const statisticsCutoff = deps.expiryHorizonMs === undefined ? -Infinity : now() - deps.expiryHorizonMs;
      const withStatistics = tasks.filter(
        (t) => t.statistics?.length && Date.parse(t.header.created_at) >= statisticsCutoff,
      );
      const statisticsMs = withStatistics.map((t) => Date.parse(t.header.created_at));
      await ensurePartitions(itemsMs, anyRollup, statisticsMs);
      let added = AddedEventIds.only(new Set());
      let fresh: Reading[] = [];
      let freshMs: number[] = [];
      let statisticsRows = 0;
      let expiredAdded = 0;
      let changedAlerts: AlertRow[] = [];
      let folded: FoldOutcome | undefined;
      let staged: StagedBatch | undefined;
      // The transaction as a span (under the batch's `handle` span when tracing; a no-op span otherwise).
      const commit = tracer().startSpan(
        'commit',
        {
          kind: SpanKind.CLIENT,
          attributes: { 'db.system.name': 'postgresql', 'telemetryhub.readings': items.readings.length },
        },
        context.active(),
      );
      try {
        for (let attempt = 1; ; attempt++) {
          staged = undefined;
          folded = undefined;
          const client = await deps.pool.connect();
          try {
            await client.query('BEGIN');
            added = await insertReadings(client, items, {
              onCopyConflict: () => deps.metrics.rawInsertFallbacks.inc(),
            });
            expiredAdded = await insertExpiredReadings(client, expired, EXPIRY_REASONS.beyondHorizon);
            statisticsRows = await insertTaskStatistics(client, withStatistics);
            ({ fresh, freshMs } = uniqueAdded(items.readings, itemsMs, added));
            const work = foldWork(fresh, freshMs, stepsOf);
            // Minutes not sealed yet are rolled up by their seal, from these raw rows: held open until the commit.
            const minutes = rolledUpMinutes(work);
            const minutesSealedBefore = minutes.length ? await sealShared(client, '1m', minutes) : undefined;
            if (minutesSealedBefore !== undefined) leaveOpenMinutesToSeal(work, minutesSealedBefore);
            const toAlert = fresh.filter((_, i) => work.steps[i]! & STEP_BIT.alert);
            changedAlerts = toAlert.length ? await thresholdAlerts(client, toAlert, rules, deps.webhookUrls ?? []) : [];
            if (deps.fold) staged = await deps.fold.stage(client, work, taskSteps(tasks), minutesSealedBefore);
            else folded = await applyFold(client, FoldAggregate.of(work, foldSettings), foldSettings);
            await client.query('COMMIT');
            break;
          } catch (err) {
            await client.query('ROLLBACK').catch(() => {});
            // A partition our cache knew was dropped (retention on another replica): look again, then retry once.
            if (attempt === 1 && (err as { code?: string }).code === NO_PARTITION_FOR_ROW) {
              partitions.forgetAll();
              await ensurePartitions(itemsMs, anyRollup, statisticsMs);
              continue;
            }
            throw err;
          } finally {
            client.release();
          }
        }
      } catch (err) {
        commit.recordException(err as Error);
        commit.setStatus({ code: SpanStatusCode.ERROR });
        throw err;
      } finally {
        commit.setAttribute('telemetryhub.readings_added', added.size);
        commit.end();
      }
      await deps.fold?.accept(staged);
      if (folded) {
        changedAlerts = [...changedAlerts, ...folded.changedAlerts];
        if (folded.rollupRows) deps.metrics.dbRowsWritten.inc({ table: 'rollups' }, folded.rollupRows);
        if (folded.deviceRows) deps.metrics.dbRowsWritten.inc({ table: 'devices' }, folded.deviceRows);
      }
      deps.metrics.dbRowsWritten.inc({ table: 'readings' }, added.size);
      if (statisticsRows) deps.metrics.dbRowsWritten.inc({ table: 'task_statistics' }, statisticsRows);
      if (changedAlerts.length) deps.metrics.dbRowsWritten.inc({ table: 'alerts' }, changedAlerts.length);
      // Counted after the commit, from the rows really changed: a rolled-back attempt counts nothing.
      for (const a of changedAlerts) {
        deps.metrics.alerts.inc({ rule: a.rule, action: a.state === 'firing' ? 'fire' : 'resolve' });
      }
      deps.metrics.duplicateReadings.inc(items.readings.length - added.size);
      if (expiredAdded) deps.metrics.expiredReadings.inc({ reason: EXPIRY_REASONS.beyondHorizon }, expiredAdded);
      const lateCorrections = watermarks.observe(fresh, freshMs).filter(Boolean).length;
      if (lateCorrections) deps.metrics.lateCorrections.inc(lateCorrections);
      if (deps.observeVisibleLatency === false) return;
      const visibleAt = Date.now();
      // An index loop: for-of in an async function costs an iterator result per reading.
      for (let i = 0; i < freshMs.length; i++) {
        deps.metrics.eventVisibleLatency.observe(Math.max(0, (visibleAt - freshMs[i]!) / 1000));
      }
    },
  };
}

/** The tasks' readings to store: each with its task's id, and whether its steps roll it up. */
function toStore(tasks: readonly ParsedTask[], stepsOf: (eventId: string) => number): ReadingsToStore {
  const rows = new ReadingRows();
  for (const t of tasks) {
    for (const r of t.readings) rows.push(r, t.header.id, (stepsOf(r.event_id) & STEP_BIT.rollup) !== 0);
  }
  return rows;
}

/** Splits readings into those to store and the expired ones, older than the horizon. */
function splitByHorizon(
  all: ReadingsToStore,
  allMs: readonly number[],
  horizonMs: number | undefined,
  nowMs: number,
): { items: ReadingsToStore; itemsMs: readonly number[]; expired: ReadingsToStore } {
  if (horizonMs === undefined) return { items: all, itemsMs: allMs, expired: NO_READINGS };
  const cutoff = nowMs - horizonMs;
  // The common case, nothing expired: the batch as it is.
  if (allMs.every((ms) => ms >= cutoff)) return { items: all, itemsMs: allMs, expired: NO_READINGS };
  const items = new ReadingRows();
  const itemsMs: number[] = [];
  const expired = new ReadingRows();
  for (let i = 0; i < all.readings.length; i++) {
    const to = allMs[i]! < cutoff ? expired : items;
    to.push(all.readings[i]!, all.taskIds[i]!, all.inRollups[i]!);
    if (to === items) itemsMs.push(allMs[i]!);
  }
  return { items, itemsMs, expired };
}

/** The readings whose event_id the insert added, each once (a batch may carry the same reading twice). */
function uniqueAdded(
  items: readonly Reading[],
  itemsMs: readonly number[],
  added: AddedEventIds,
): { fresh: Reading[]; freshMs: number[] } {
  // Every item added means every event_id was distinct: nothing to look up (the common case, a clean batch).
  if (added.all) return { fresh: items.slice(), freshMs: itemsMs.slice() };
  const fresh: Reading[] = [];
  const freshMs: number[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < items.length; i++) {
    const r = items[i]!;
    if (!added.has(r.event_id) || seen.has(r.event_id)) continue;
    seen.add(r.event_id);
    fresh.push(r);
    freshMs.push(itemsMs[i]!);
  }
  return { fresh, freshMs };
}

/**
 * Which steps each event gets: the union over every task in the group that carries it. Tasks of one type (the
 * usual group) give every event the same steps, without a lookup per event.
 */
function eventSteps(tasks: readonly ParsedTask[]): (eventId: string) => number {
  const types = new Set(tasks.map((t) => t.header.type));
  if (types.size <= 1) {
    const bits = tasks.length ? stepBits(tasks[0]!.header.type) : 0;
    return () => bits;
  }
  const steps = new Map<string, number>();
  for (const t of tasks) {
    const bits = stepBits(t.header.type);
    for (const r of t.readings) steps.set(r.event_id, (steps.get(r.event_id) ?? 0) | bits);
  }
  return (eventId) => steps.get(eventId) ?? 0;
}

/** The fresh readings with their fold steps: their tasks' steps, and every reading updates its device. */
function foldWork(readings: Reading[], ms: number[], stepsOf: (eventId: string) => number): FoldWork {
  return { readings, ms, steps: readings.map((r) => stepsOf(r.event_id) | FOLD_STEP.devices) };
}

/** Each task of the batch with its fold steps, for the fold ledger. */
function taskSteps(tasks: readonly ParsedTask[]): TaskSteps[] {
  return tasks.map((t) => ({ id: t.header.id, steps: stepBits(t.header.type) | FOLD_STEP.devices }));
}

/** Runs the threshold rules over the readings and applies the alert changes (and their webhooks' outbox rows). */
async function thresholdAlerts(
  client: pg.PoolClient,
  readings: readonly Reading[],
  rules: readonly ThresholdRule[],
  webhookUrls: readonly string[],
): Promise<AlertRow[]> {
  const firing = await firingAlerts(client, [...new Set(readings.map((r) => r.device_id))]);
  const changed = await applyAlertActions(client, evaluateRules(readings, rules, firing));
  await queueAlertNotifications(client, changed, webhookUrls);
  return changed;
}
