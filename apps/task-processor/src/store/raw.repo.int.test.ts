import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type pg from 'pg';
import { pino } from 'pino';
import { PostgresServer } from '@telemetryhub/testkit';
import { createPgPool } from './pool.js';
import { migrate } from '@telemetryhub/migrations';
import { ReadingRows, insertReadings, type ReadingsToStore } from './raw.repo.js';
import { testReading } from '../app.test-support.js';
import { PARTITIONED_TABLES, PartitionManager } from './partitions.js';

const log = pino({ level: 'silent' });
let server: PostgresServer;
let pool: pg.Pool;

before(async () => {
  server = await PostgresServer.start();
  pool = createPgPool(server.url, { max: 2, statementTimeoutMs: 10_000 }, log);
  await migrate(pool, log);
  await new PartitionManager(pool).ensure(PARTITIONED_TABLES.readings, [Date.parse('2026-11-23T10:00:00Z')]);
});
after(async () => {
  await pool.end();
  await server.stop();
});

async function inTransaction<T>(fn: (c: pg.PoolClient) => Promise<T>, commit = true): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query(commit ? 'COMMIT' : 'ROLLBACK');
    return out;
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}

/** A reading with its task and rollup flag, as the tests write them; rowsOf makes them ReadingsToStore. */
interface StoredReadingInput {
  reading: ReturnType<typeof testReading>;
  taskId: string;
  inRollups: boolean;
}
function rowsOf(items: readonly StoredReadingInput[]): ReadingsToStore {
  const rows = new ReadingRows();
  for (const i of items) rows.push(i.reading, i.taskId, i.inRollups);
  return rows;
}

const item = (n: number, extra: Partial<Parameters<typeof testReading>[0]> = {}): StoredReadingInput => ({
  reading: testReading({
    event_id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    device_id: 'dev',
    metric: 'temperature',
    event_time: '2026-11-23T10:00:00.000Z',
    value: n,
    ...extra,
  }),
  taskId: `task-${n}`,
  inRollups: true,
});

test('every value survives the insert: escapes, NULLs, unicode and extreme numbers', async () => {
  const items = [
    item(1, { site: 'back\\slash\ttab\nnew line\rreturn', firmware: '\\N', region: 'Zürich — 東京', unit: null }),
    item(2, { value: 1.7976931348623157e308, sequence_id: 9007199254740991 }),
    item(3, { value: -5e-324, device_id: 'Gerät-ü', sequence_id: null }),
    item(4, { value: 0.1 + 0.2, site: 'NULL', region: '', firmware: 'a,"b"{c}' }),
  ];
  const added = await inTransaction((c) => insertReadings(c, rowsOf(items)));
  assert.equal(added.size, 4);
  const { rows } = await pool.query<{
    device_id: string;
    value: number;
    site: string | null;
    region: string | null;
    firmware: string | null;
    unit: string | null;
    sequence_id: string | null;
    task_id: string;
  }>(`SELECT device_id, value, site, region, firmware, unit, sequence_id, task_id FROM readings ORDER BY event_id`);
  assert.deepEqual(rows[0], {
    device_id: 'dev',
    value: 1,
    site: 'back\\slash\ttab\nnew line\rreturn',
    region: 'Zürich — 東京',
    firmware: '\\N',
    unit: null,
    sequence_id: null,
    task_id: 'task-1',
  });
  assert.equal(rows[1]!.value, 1.7976931348623157e308);
  assert.equal(rows[1]!.sequence_id, '9007199254740991');
  assert.equal(rows[2]!.value, -5e-324);
  assert.equal(rows[2]!.device_id, 'Gerät-ü');
  assert.equal(rows[3]!.value, 0.1 + 0.2, 'doubles round-trip exactly');
  assert.deepEqual([rows[3]!.site, rows[3]!.region, rows[3]!.firmware], ['NULL', '', 'a,"b"{c}']);
});

test('only new rows are reported added, and a rolled-back insert adds nothing', async () => {
  const again = await inTransaction((c) => insertReadings(c, rowsOf([item(1), item(5), item(5)])));
  assert.deepEqual([...again], ['00000000-0000-4000-8000-000000000005']);
  await inTransaction((c) => insertReadings(c, rowsOf([item(6)])), false);
  const later = await inTransaction((c) => insertReadings(c, rowsOf([item(7)])));
  assert.deepEqual([...later], ['00000000-0000-4000-8000-000000000007']);
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM readings');
  assert.equal(rows[0]!.n, '6');
});

test('each row keeps its own task and rollup flag, whatever order the batch comes in, on either path', async () => {
  // Out of event-id order (rows are written sorted), each with its own task and flag: a row written with another
  // reading's task or flag would show here.
  const batch = [305, 301, 304, 300, 302].map((n) => ({ ...item(n), inRollups: n % 2 === 0 }));
  await inTransaction((c) => insertReadings(c, rowsOf(batch.slice(0, 3))));
  // 305, 301 and 304 are stored now: this batch takes the ON CONFLICT path.
  await inTransaction((c) => insertReadings(c, rowsOf([...batch.slice(3), ...batch.slice(0, 3)])));
  const { rows } = await pool.query<{ value: number; task_id: string; in_rollups: boolean }>(
    `SELECT value, task_id, in_rollups FROM readings WHERE task_id LIKE 'task-3__' ORDER BY value`,
  );
  assert.deepEqual(
    rows,
    [300, 301, 302, 304, 305].map((n) => ({ value: n, task_id: `task-${n}`, in_rollups: n % 2 === 0 })),
  );
});

test('a batch meeting a stored row falls back to ON CONFLICT inside the same transaction: only new rows added', async () => {
  const fallbacks: number[] = [];
  const onCopyConflict = () => fallbacks.push(1);
  const fresh = [item(100), item(101)];
  assert.equal((await inTransaction((c) => insertReadings(c, rowsOf(fresh), { onCopyConflict }))).size, 2);
  assert.equal(fallbacks.length, 0, 'no conflict: the COPY path');
  const { added, stored } = await inTransaction(async (c) => {
    const ids = await insertReadings(c, rowsOf([item(99), item(100), item(102), item(101), item(103)]), {
      onCopyConflict,
    });
    // The transaction is still usable after the failed COPY was undone.
    const { rows } = await c.query<{ n: string }>(`SELECT count(*) AS n FROM readings WHERE task_id LIKE 'task-1__'`);
    return { added: ids, stored: rows[0]!.n };
  });
  assert.deepEqual(
    [...added].sort(),
    [99, 102, 103].map((n) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`),
  );
  assert.equal(fallbacks.length, 1, 'the conflict was counted');
  assert.equal(stored, '4', 'rows 100–103 once each (99 is task-99)');
});

test('two transactions inserting overlapping batches at once: each row once, each reported added by exactly one', async () => {
  const batch = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => item(1000 + from + k));
  const run = (items: StoredReadingInput[]) =>
    inTransaction(async (c) => {
      const added = await insertReadings(c, rowsOf(items));
      await new Promise((r) => setTimeout(r, 100)); // hold the row locks while the other one inserts
      return added;
    });
  const [a, b] = await Promise.all([run(batch(0, 599)), run(batch(300, 899))]);
  assert.equal(a.size + b.size, 900, 'each of the 900 event_ids added by one of them');
  assert.equal(new Set([...a, ...b]).size, 900);
  const { rows } = await pool.query<{ n: string; d: string }>(
    `SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM readings WHERE value BETWEEN 1000 AND 1899`,
  );
  assert.deepEqual([rows[0]!.n, rows[0]!.d], ['900', '900']);
});

test('any text survives the COPY path byte for byte', async () => {
  const text = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\0'));
  let n = 5000;
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(text, fc.option(text, { nil: null })), { minLength: 1, maxLength: 5 }),
      async (rows) => {
        const items = rows.map(([site, firmware]) => item(++n, { site, firmware }));
        assert.equal((await inTransaction((c) => insertReadings(c, rowsOf(items)))).size, items.length);
        const { rows: got } = await pool.query<{ site: string; firmware: string | null }>(
          `SELECT site, firmware FROM readings WHERE event_id = ANY($1::uuid[]) ORDER BY event_id`,
          [items.map((i) => i.reading.event_id)],
        );
        assert.deepEqual(
          got.map((r) => [r.site, r.firmware]),
          rows,
        );
      },
    ),
    { numRuns: 60 },
  );
});
