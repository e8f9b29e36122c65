import { test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { testReading, useMigratedDatabase } from '../app.test-support.js';
import { applyAlertActions, firingAlerts } from './alert.repo.js';
import { alertKey, type AlertAction, type AlertRuleRef } from './alert-rules.js';

const db = useMigratedDatabase({ poolMax: 2 });

const hot: AlertRuleRef = { metric: 'temperature', kind: 'max', threshold: 80 };
const action = (type: AlertAction['type'], device: string, second: number, value: number): AlertAction => ({
  type,
  rule: hot,
  reading: testReading({
    device_id: device,
    metric: 'temperature',
    value,
    event_time: new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString(),
  }),
});

/** Runs `use` in a transaction on a client whose statements are counted. */
async function counted<T>(use: (client: pg.PoolClient) => Promise<T>): Promise<{ result: T; statements: number }> {
  const client = await db.pool.connect();
  let statements = 0;
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  const spy = new Proxy(client, {
    get: (target, prop) =>
      prop === 'query'
        ? (...args: unknown[]) => {
            statements++;
            return query(...args);
          }
        : Reflect.get(target, prop),
  });
  try {
    await client.query('BEGIN');
    const result = await use(spy);
    await client.query('COMMIT');
    return { result, statements };
  } finally {
    client.release();
  }
}

test('an alert storm is applied in one statement, not a round trip per alert', async () => {
  const storm = Array.from({ length: 200 }, (_, i) => action('fire', `STORM-${i}`, 0, 90 + (i % 5)));
  const { result, statements } = await counted((c) => applyAlertActions(c, storm));
  assert.equal(statements, 1);
  assert.equal(result.length, 200);
  const { rows } = await db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM alerts WHERE device_id LIKE 'STORM-%' AND state = 'firing'`,
  );
  assert.equal(rows[0]!.n, 200);
});

test('changes of one stream within a batch apply in order; a stream already firing is not fired twice', async () => {
  await counted((c) => applyAlertActions(c, [action('fire', 'ALREADY', 0, 85)]));
  const { result, statements } = await counted((c) =>
    applyAlertActions(c, [
      action('fire', 'FLAP', 1, 85),
      action('fire', 'ALREADY', 2, 88),
      action('resolve', 'FLAP', 3, 70),
      action('fire', 'FLAP', 4, 86),
    ]),
  );
  // Round 1: both fires (one statement); round 2: the resolve; round 3: the second fire.
  assert.equal(statements, 3);
  assert.deepEqual(
    result.map((a) => [a.device_id, a.state, a.value, a.resolved_value]),
    [
      ['FLAP', 'firing', 85, null],
      ['FLAP', 'resolved', 85, 70],
      ['FLAP', 'firing', 86, null],
    ],
  );
  const { rows } = await db.pool.query(
    `SELECT device_id, state, value, resolved_value, to_char(resolved_at AT TIME ZONE 'UTC', 'SS') AS resolved_s
       FROM alerts WHERE device_id IN ('FLAP', 'ALREADY') ORDER BY id`,
  );
  assert.deepEqual(rows, [
    { device_id: 'ALREADY', state: 'firing', value: 85, resolved_value: null, resolved_s: null },
    { device_id: 'FLAP', state: 'resolved', value: 85, resolved_value: 70, resolved_s: '03' },
    { device_id: 'FLAP', state: 'firing', value: 86, resolved_value: null, resolved_s: null },
  ]);
  const client = await db.pool.connect();
  try {
    assert.deepEqual([...(await firingAlerts(client, ['FLAP', 'ALREADY']))].sort(), [
      alertKey('ALREADY', 'temperature', 'max'),
      alertKey('FLAP', 'temperature', 'max'),
    ]);
  } finally {
    client.release();
  }
});
