import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { pino } from 'pino';
import { PostgresServer } from '@telemetryhub/devstack';
import { createPgPool } from './pool.js';
import { migrate } from './migrate.js';
import { insertReadings, type StoredReadingInput } from './raw.repo.js';
import { testReading } from '../test-support.js';
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
});

test('every value survives the insert: escapes, NULLs, unicode and extreme numbers', async () => {
  const items = [
    item(1, { site: 'back\\slash\ttab\nnew line\rreturn', firmware: '\\N', region: 'Zürich — 東京', unit: null }),
    item(2, { value: 1.7976931348623157e308, sequence_id: 9007199254740991 }),
    item(3, { value: -5e-324, device_id: 'Gerät-ü', sequence_id: null }),
    item(4, { value: 0.1 + 0.2, site: 'NULL', region: '', firmware: 'a,"b"{c}' }),
  ];
  const added = await inTransaction((c) => insertReadings(c, items));
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
  const again = await inTransaction((c) => insertReadings(c, [item(1), item(5), item(5)]));
  assert.deepEqual([...again], ['00000000-0000-4000-8000-000000000005']);
  await inTransaction((c) => insertReadings(c, [item(6)]), false);
  const later = await inTransaction((c) => insertReadings(c, [item(7)]));
  assert.deepEqual([...later], ['00000000-0000-4000-8000-000000000007']);
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM readings');
  assert.equal(rows[0]!.n, '6');
});
