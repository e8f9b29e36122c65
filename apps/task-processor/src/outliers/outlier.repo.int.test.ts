import { test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { useMigratedDatabase } from '../app.test-support.js';
import { OutlierInputs } from './outlier-inputs.js';
import { KnownOutlierSeries, lockOutlierState } from './outlier.repo.js';

const db = useMigratedDatabase();

/** A client whose statements are recorded in `seen`. */
function recorded(client: pg.PoolClient, seen: string[]): pg.PoolClient {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === 'query') {
        return (text: string, values?: unknown[]) => {
          seen.push(text);
          return target.query(text, values);
        };
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

const inputsOf = (series: [string, string][]) => {
  const inputs = new OutlierInputs();
  series.forEach(([device, metric], i) =>
    inputs.add(
      device,
      metric,
      Date.UTC(2026, 0, 1, 0, 0, i),
      i,
      `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    ),
  );
  return inputs;
};

/** Locks the state of `inputs` in a transaction of its own; returns what it locked and the statements it sent. */
async function lockOnce(inputs: OutlierInputs, known?: KnownOutlierSeries) {
  const seen: string[] = [];
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    const states = await lockOutlierState(recorded(client, seen), inputs, known);
    await client.query('COMMIT');
    return { states, inserts: seen.filter((q) => q.includes('INSERT INTO outlier_state')).length };
  } finally {
    client.release();
  }
}

test('a series whose row is known is not created again; a known row deleted by hand is', async () => {
  const known = new KnownOutlierSeries();
  const inputs = inputsOf([
    ['OK-1', 'temperature'],
    ['OK-2', 'pressure'],
  ]);
  const first = await lockOnce(inputs, known);
  assert.equal(first.states.size, 2);
  assert.equal(first.inserts, 1, 'new series: their rows created');

  const second = await lockOnce(inputs, known);
  assert.equal(second.states.size, 2);
  assert.equal(second.inserts, 0, 'known series: no insert');

  await db.pool.query(`DELETE FROM outlier_state WHERE device_id = 'OK-2'`);
  const third = await lockOnce(inputs, known);
  assert.deepEqual([...third.states.keys()].sort(), ['OK-1\u0000temperature', 'OK-2\u0000pressure']);
  assert.equal(third.inserts, 1, 'the row gone is created again');
  const { rows } = await db.pool.query(`SELECT device_id FROM outlier_state WHERE device_id LIKE 'OK-%' ORDER BY 1`);
  assert.deepEqual(
    rows.map((r: { device_id: string }) => r.device_id),
    ['OK-1', 'OK-2'],
  );

  assert.equal((await lockOnce(inputs)).inserts, 1, 'without a known set, every fold creates what is missing');
});

test('the known set is bounded: past its size it starts over', () => {
  const known = new KnownOutlierSeries(2);
  known.add('a');
  known.add('b');
  known.add('c');
  assert.deepEqual(
    ['a', 'b', 'c'].map((k) => known.has(k)),
    [false, false, true],
  );
});
