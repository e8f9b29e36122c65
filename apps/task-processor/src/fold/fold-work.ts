import type pg from 'pg';
import type { Reading } from '@telemetryhub/schemas';
import { writeRollups } from '../store/rollup.repo.js';
import { writeDevicesSeen } from '../devices/devices.repo.js';
import { lockOutlierState, saveOutlierState, type KnownOutlierSeries } from '../outliers/outlier.repo.js';
import { applyAlertActions, firingAlerts, queueAlertNotifications, type AlertRow } from '../alerts/alert.repo.js';
import { evaluateOutliers, type OutlierConfig } from '../outliers/outlier-rules.js';
import type { FoldAggregate } from './fold-aggregate.js';

/**
 * What folding does with a stored reading, as bits: into the 1-minute and 1-hour rollups, through the outlier
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
 * Rows are locked table by table in a fixed order (rollups, devices, outlier state — each sorted), the same in
 * every transaction that folds, so two replicas folding overlapping series wait for each other instead of
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
    const firing = await firingAlerts(client, fold.outliers.devices());
    const states = await lockOutlierState(client, fold.outliers, knownOutliers);
    const actions = evaluateOutliers(fold.outliers, states, firing, settings.outliers);
    await saveOutlierState(client, states);
    changedAlerts = await applyAlertActions(client, actions);
    await queueAlertNotifications(client, changedAlerts, settings.webhookUrls ?? []);
  }
  return { rollupRows, deviceRows, changedAlerts };
}
