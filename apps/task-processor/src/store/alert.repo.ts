import type pg from 'pg';
import { alertKey, type AlertAction } from '../handlers/alert-rules.js';

/** Keys (alertKey) of the alert streams currently firing for these devices. */
export async function firingAlerts(client: pg.PoolClient, devices: readonly string[]): Promise<Set<string>> {
  if (!devices.length) return new Set();
  const { rows } = await client.query<{ device_id: string; metric: string; rule: string }>(
    `SELECT device_id, metric, rule FROM alerts WHERE state = 'firing' AND device_id = ANY($1::text[])`,
    [devices],
  );
  return new Set(rows.map((r) => alertKey(r.device_id, r.metric, r.rule)));
}

/**
 * Applies alert state changes. A `fire` for a stream already firing (another replica got there first) does
 * nothing: the partial unique index keeps one firing alert per device, metric and rule. Returns rows changed.
 */
export async function applyAlertActions(client: pg.PoolClient, actions: readonly AlertAction[]): Promise<number> {
  let changed = 0;
  for (const a of actions) {
    const r = a.reading;
    const result =
      a.type === 'fire'
        ? await client.query(
            `INSERT INTO alerts (device_id, metric, rule, threshold, state, value, event_id, fired_at)
             VALUES ($1, $2, $3, $4, 'firing', $5, $6, $7)
             ON CONFLICT (device_id, metric, rule) WHERE state = 'firing' DO NOTHING`,
            [r.device_id, r.metric, a.rule.kind, a.rule.threshold, r.value, r.event_id, r.event_time],
          )
        : await client.query(
            `UPDATE alerts SET state = 'resolved', resolved_at = $4, resolved_value = $5
              WHERE state = 'firing' AND device_id = $1 AND metric = $2 AND rule = $3`,
            [r.device_id, r.metric, a.rule.kind, r.event_time, r.value],
          );
    changed += result.rowCount ?? 0;
  }
  return changed;
}
