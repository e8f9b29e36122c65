import type pg from 'pg';
import { alertKey, type AlertAction } from './alert-rules.js';
import { isoUtc } from '../store/sql-time.js';

/** Keys (alertKey) of the alert streams currently firing for these devices. */
export async function firingAlerts(client: pg.PoolClient, devices: readonly string[]): Promise<Set<string>> {
  if (!devices.length) return new Set();
  const { rows } = await client.query<{ device_id: string; metric: string; rule: string }>(
    `SELECT device_id, metric, rule FROM alerts WHERE state = 'firing' AND device_id = ANY($1::text[])`,
    [devices],
  );
  return new Set(rows.map((r) => alertKey(r.device_id, r.metric, r.rule)));
}

/** An alert row as it is after a change (what a webhook receives). */
export interface AlertRow {
  id: string;
  device_id: string;
  metric: string;
  rule: string;
  threshold: number;
  state: 'firing' | 'resolved';
  value: number;
  event_id: string;
  fired_at: string;
  resolved_at: string | null;
  resolved_value: number | null;
}

const RETURNING = `RETURNING id::text, device_id, metric, rule, threshold, state, value, event_id::text,
  ${isoUtc('fired_at')} AS fired_at,
  ${isoUtc('resolved_at')} AS resolved_at, resolved_value`;

/**
 * Applies alert state changes. A `fire` for a stream already firing (another replica got there first) does
 * nothing: the partial unique index keeps one firing alert per device, metric and rule. Returns the rows changed.
 */
export async function applyAlertActions(client: pg.PoolClient, actions: readonly AlertAction[]): Promise<AlertRow[]> {
  const changed: AlertRow[] = [];
  for (const a of actions) {
    const r = a.reading;
    const result =
      a.type === 'fire'
        ? await client.query(
            `INSERT INTO alerts (device_id, metric, rule, threshold, state, value, event_id, fired_at)
             VALUES ($1, $2, $3, $4, 'firing', $5, $6, $7)
             ON CONFLICT (device_id, metric, rule) WHERE state = 'firing' DO NOTHING
             ${RETURNING}`,
            [r.device_id, r.metric, a.rule.kind, a.rule.threshold, r.value, r.event_id, r.event_time],
          )
        : await client.query(
            `UPDATE alerts SET state = 'resolved', resolved_at = $4, resolved_value = $5
              WHERE state = 'firing' AND device_id = $1 AND metric = $2 AND rule = $3
             ${RETURNING}`,
            [r.device_id, r.metric, a.rule.kind, r.event_time, r.value],
          );
    changed.push(...(result.rows as AlertRow[]));
  }
  return changed;
}

/** Queues one webhook per changed alert and URL, in the caller's transaction (the outbox). */
export async function queueAlertNotifications(
  client: pg.PoolClient,
  alerts: readonly AlertRow[],
  urls: readonly string[],
): Promise<number> {
  if (!alerts.length || !urls.length) return 0;
  const ids: string[] = [];
  const targets: string[] = [];
  const payloads: string[] = [];
  for (const alert of alerts) {
    for (const url of urls) {
      ids.push(alert.id);
      targets.push(url);
      payloads.push(JSON.stringify({ event: alert.state === 'firing' ? 'alert.fired' : 'alert.resolved', alert }));
    }
  }
  await client.query(
    `INSERT INTO alert_notifications (alert_id, url, payload)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::jsonb[])`,
    [ids, targets, payloads],
  );
  return ids.length;
}
