import { test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { useMigratedDatabase } from '../app.test-support.js';
import { classifyDbError } from '../store/pg-errors.js';
import { OutlierInputs } from './outlier-inputs.js';
import { KnownOutlierSeries, OutlierStateMovedError, readOutlierState, saveOutlierState } from './outlier.repo.js';

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

/** Reads the state of `inputs` in a transaction of its own; returns what it read and the statements it sent. */
async function readOnce(inputs: OutlierInputs, known?: KnownOutlierSeries) {
  const seen: string[] = [];
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    const read = await readOutlierState(recorded(client, seen), inputs, known);
    await client.query('COMMIT');
    const states = new Map(read.series.map((s, i) => [`${s.device}/${s.metric}`, read.states.get(i)]));
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
  const first = await readOnce(inputs, known);
  assert.equal(first.states.size, 2);
  assert.equal(first.inserts, 1, 'new series: their rows created');

  const second = await readOnce(inputs, known);
  assert.equal(second.states.size, 2);
  assert.equal(second.inserts, 0, 'known series: no insert');

  await db.pool.query(`DELETE FROM outlier_state WHERE device_id = 'OK-2'`);
  const third = await readOnce(inputs, known);
  assert.deepEqual([...third.states.keys()].sort(), ['OK-1/temperature', 'OK-2/pressure']);
  assert.equal(third.inserts, 1, 'the row gone is created again');
  const { rows } = await db.pool.query(`SELECT device_id FROM outlier_state WHERE device_id LIKE 'OK-%' ORDER BY 1`);
  assert.deepEqual(
    rows.map((r: { device_id: string }) => r.device_id),
    ['OK-1', 'OK-2'],
  );

  assert.equal((await readOnce(inputs)).inserts, 1, 'without a known set, every fold creates what is missing');
});

test('the state comes back exactly as stored, to the last bit of each double', async () => {
  const stored: Array<[string, number, number, number]> = [
    ['EXACT-1', 7, 0.1 + 0.2, 1 / 3],
    ['EXACT-2', 123_456_789, -98_765.432_101_234_56, 1e-300],
    ['EXACT-3', 1, 5e-324, 1e300 / 3],
  ];
  for (const [device, samples, mean, variance] of stored) {
    await db.pool.query(
      `INSERT INTO outlier_state (device_id, metric, samples, mean, variance) VALUES ($1, 'temperature', $2, $3, $4)`,
      [device, samples, mean, variance],
    );
  }
  const { states } = await readOnce(inputsOf(stored.map(([device]) => [device, 'temperature'])));
  for (const [device, samples, mean, variance] of stored) {
    assert.deepEqual(states.get(`${device}/temperature`), { samples, mean, variance }, device);
  }
});

test('the known set is bounded: past its size it starts over', () => {
  const known = new KnownOutlierSeries(2);
  known.add('a', 'm');
  known.add('b', 'm');
  known.add('b', 'm'); // already known: not counted twice
  known.add('c', 'm');
  assert.deepEqual(
    ['a', 'b', 'c'].map((d) => known.has(d, 'm')),
    [false, false, true],
  );
});

test('a row another writer changed between the read and the write: the write refuses, nothing is lost', async () => {
  const inputs = inputsOf([
    ['MOVED-1', 'temperature'],
    ['MOVED-2', 'temperature'],
  ]);
  await readOnce(inputs); // the rows exist and are committed, as a fold finds a known series'
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    const read = await readOutlierState(client, inputs);
    read.states.samples.forEach((n, i) => (read.states.samples[i] = n + 1));
    // A writer that does not take the lock (a replica still locking rows, in a rolling upgrade) folds one reading
    // into MOVED-2 and commits first.
    await db.pool.query(`UPDATE outlier_state SET samples = samples + 1 WHERE device_id = 'MOVED-2'`);
    await assert.rejects(saveOutlierState(client, read), (err: unknown) => {
      assert.ok(err instanceof OutlierStateMovedError);
      assert.equal(err.series, 1);
      assert.equal(classifyDbError(err), 'transient', 'retried, as a serialization failure is');
      return true;
    });
    await client.query('ROLLBACK');
  } finally {
    client.release();
  }
  const { rows } = await db.pool.query<{ device_id: string; samples: string }>(
    `SELECT device_id, samples FROM outlier_state WHERE device_id LIKE 'MOVED-%' ORDER BY 1`,
  );
  assert.deepEqual(
    rows.map((r) => [r.device_id, Number(r.samples)]),
    [
      ['MOVED-1', 0],
      ['MOVED-2', 1],
    ],
    'the other writer’s reading kept, the rolled-back fold’s left to retry',
  );
});

test('folds take the outlier-state lock: a second waits until the first has committed', async () => {
  const inputs = inputsOf([['LOCKED-1', 'temperature']]);
  await readOnce(inputs); // the row exists and is committed: only the lock can make the second wait
  const first = await db.pool.connect();
  const second = await db.pool.connect();
  try {
    await first.query('BEGIN');
    await readOutlierState(first, inputs);
    await second.query('BEGIN');
    let secondRead = false;
    const reading = readOutlierState(second, inputs).then((r) => ((secondRead = true), r));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(secondRead, false, 'the second fold waits for the lock');
    const mine = await readOutlierState(first, inputs); // the lock is re-entrant within its holder's transaction
    mine.states.samples[0] = mine.states.samples[0]! + 1;
    await saveOutlierState(first, mine);
    await first.query('COMMIT');
    const theirs = await reading;
    assert.equal(theirs.states.samples[0], 1, 'it reads what the first committed');
    await second.query('COMMIT');
  } finally {
    first.release();
    second.release();
  }
});
