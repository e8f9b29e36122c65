import type pg from 'pg';
import { alertKey, type AlertAction } from './alert-rules.js';
import { isoUtc } from '../store/sql-time.js';
import { numberArrayLiteral, textArrayLiteral } from '../store/pg-array.js';

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
 * Applies alert state changes, set-based: one statement for the fires and one for the resolves of each round, not
 * a round trip per change (an alert storm — a site over temperature — is when the processor must not slow down).
 * Round k applies every stream's k-th change, so a stream that fires and resolves within one batch changes in its
 * order; within a round each stream appears once and rows are locked in stream-key order, the same in every
 * transaction, so two replicas cannot deadlock on alerts. A `fire` for a stream already firing (another replica
 * got there first) does nothing: the partial unique index keeps one firing alert per device, metric and rule.
 * Returns the rows changed, as they are after each change.
 */
export async function applyAlertActions(client: pg.PoolClient, actions: readonly AlertAction[]): Promise<AlertRow[]> {
  const changed: AlertRow[] = [];
  for (const round of inRounds(actions)) {
    const fires = round.filter((a) => a.type === 'fire');
    const resolves = round.filter((a) => a.type === 'resolve');
    if (fires.length) {
      const { rows } = await client.query<AlertRow>(
        `INSERT INTO alerts (device_id, metric, rule, threshold, state, value, event_id, fired_at)
         SELECT d, m, k, t, 'firing', v, e, f
           FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::float8[], $6::uuid[], $7::timestamptz[])
                AS u(d, m, k, t, v, e, f)
         ON CONFLICT (device_id, metric, rule) WHERE state = 'firing' DO NOTHING
         ${RETURNING}`,
        [
          textArrayLiteral(fires.map((a) => a.reading.device_id)),
          textArrayLiteral(fires.map((a) => a.reading.metric)),
          textArrayLiteral(fires.map((a) => a.rule.kind)),
          numberArrayLiteral(fires.map((a) => a.rule.threshold)),
          numberArrayLiteral(fires.map((a) => a.reading.value)),
          textArrayLiteral(fires.map((a) => a.reading.event_id)),
          textArrayLiteral(fires.map((a) => a.reading.event_time)),
        ],
      );
      changed.push(...rows);
    }
    if (resolves.length) {
      const { rows } = await client.query<AlertRow>(
        `UPDATE alerts AS a SET state = 'resolved', resolved_at = u.t, resolved_value = u.v
           FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::float8[]) AS u(d, m, k, t, v)
          WHERE a.state = 'firing' AND a.device_id = u.d AND a.metric = u.m AND a.rule = u.k
         ${RETURNING}`,
        // u's columns are named apart from the table's, so RETURNING's names can only mean the alert row's.
        [
          textArrayLiteral(resolves.map((a) => a.reading.device_id)),
          textArrayLiteral(resolves.map((a) => a.reading.metric)),
          textArrayLiteral(resolves.map((a) => a.rule.kind)),
          textArrayLiteral(resolves.map((a) => a.reading.event_time)),
          numberArrayLiteral(resolves.map((a) => a.reading.value)),
        ],
      );
      changed.push(...rows);
    }
  }
  return changed;
}

/** The actions in rounds: round k holds each stream's k-th action, sorted by stream key (the lock order). */
function inRounds(actions: readonly AlertAction[]): AlertAction[][] {
  const byStream = new Map<string, AlertAction[]>();
  for (const a of actions) {
    const key = alertKey(a.reading.device_id, a.rule.metric, a.rule.kind);
    const list = byStream.get(key);
    if (list) list.push(a);
    else byStream.set(key, [a]);
  }
  const rounds: AlertAction[][] = [];
  for (const key of [...byStream.keys()].sort()) {
    byStream.get(key)!.forEach((a, k) => (rounds[k] ??= []).push(a));
  }
  return rounds;
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
