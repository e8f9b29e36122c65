import type pg from 'pg';
import type { Reading } from '@telemetryhub/schemas';
import { writeRollups } from '../store/rollup.repo.js';
import { writeDevicesSeen } from '../devices/devices.repo.js';
import { readOutlierState, saveOutlierState, type KnownOutlierSeries } from '../outliers/outlier.repo.js';
import { applyAlertActions, firingAlerts, queueAlertNotifications, type AlertRow } from '../alerts/alert.repo.js';
import { evaluateOutliers, type OutlierConfig } from '../outliers/outlier-rules.js';
import type { FoldAggregate } from './fold-aggregate.js';
import { BUCKET_MS } from '../store/rollup-buckets.js';

/**
 * What folding does with a stored reading, as bits: into the 1-minute and 1-hour rollups (a reading of a minute
 * not yet sealed is rolled up by the seal instead: leaveOpenMinutesToSeal), through the outlier
 * detector (running z-score per device and metric), into its device's row. The task type decides the first two
 * (handlers/telemetry.handler.ts); every stored reading updates its device.
 */
export const FOLD_STEP = { rollup: 1, outliers: 2, devices: 4 } as const;

/** Readings stored by one or more batches, each with its fold steps, waiting to be folded. */
export interface FoldWork {
  readings: Reading[];
  /** Event time of each reading in ms (parsed once, when the batch was stored). */
  ms: number[];
  steps: number[];
}

export const emptyWork = (): FoldWork => ({ readings: [], ms: [], steps: [] });

/** The number (start ÷ one minute) of each distinct minute of the readings to roll up, sorted. */
export function rolledUpMinutes(work: FoldWork): number[] {
  const minutes = new Set<number>();
  for (let i = 0; i < work.steps.length; i++) {
    if (work.steps[i]! & FOLD_STEP.rollup) minutes.add(Math.floor(work.ms[i]! / BUCKET_MS['1m']));
  }
  return [...minutes].sort((a, b) => a - b);
}

/**
 * Leaves the readings of minutes not sealed when they were stored (at or after `minutesSealedBeforeMs`, a minute
 * boundary) to the minute's seal, which counts them from their raw rows: their fold does not roll them up. Those of
 * minutes already sealed (late readings) it still upserts.
 */
export function leaveOpenMinutesToSeal(work: FoldWork, minutesSealedBeforeMs: number): void {
  for (let i = 0; i < work.steps.length; i++) {
    if (work.ms[i]! >= minutesSealedBeforeMs) work.steps[i]! &= ~FOLD_STEP.rollup;
  }
}

export interface FoldOutcome {
  rollupRows: number;
  deviceRows: number;
  /** Alerts the outlier detector fired or resolved (to count and notify once committed). */
  changedAlerts: AlertRow[];
}

export interface FoldSettings {
  /** The outlier detector; absent = off (readings with that step are then only rolled up and counted). */
  outliers?: OutlierConfig;
  /** Webhook URLs: an outlier alert change queues one notification per URL in the same transaction. */
  webhookUrls?: readonly string[];
}

/**
 * Folds gathered readings into rollups, devices and the outlier state, in the caller's transaction. Call it with
 * readings the raw insert really added, each once: then every reading counts exactly once, whatever the retries.
 * Locks are taken in a fixed order (rollup rows, device rows — each sorted — then the outlier-state lock), the same
 * in every transaction that folds, so two replicas folding overlapping series wait for each other instead of
 * deadlocking.
 */
export async function applyFold(
  client: pg.PoolClient,
  fold: FoldAggregate,
  settings: FoldSettings,
  knownOutliers?: KnownOutlierSeries,
): Promise<FoldOutcome> {
  const rollupRows = await writeRollups(client, fold.minutes);
  const deviceRows = await writeDevicesSeen(client, fold.devices);
  let changedAlerts: AlertRow[] = [];
  if (settings.outliers && fold.outliers.size) {
    // Under the outlier-state lock (taken first): the alerts firing are read as the previous fold left them.
    const read = await readOutlierState(client, fold.outliers, knownOutliers);
    const firing = await firingAlerts(client, fold.outliers.devices());
    const actions = evaluateOutliers(fold.outliers, read.series, read.states, firing, settings.outliers);
    await saveOutlierState(client, read);
    changedAlerts = await applyAlertActions(client, actions);
    await queueAlertNotifications(client, changedAlerts, settings.webhookUrls ?? []);
  }
  return { rollupRows, deviceRows, changedAlerts };
}
