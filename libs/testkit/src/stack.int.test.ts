import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import pg from 'pg';
import { startStack } from './stack.js';
import { ping } from './redis-server.js';

test('starts a private Redis and PostgreSQL, and stop() removes the throwaway data', async () => {
  const stack = await startStack();
  try {
    assert.equal(await ping(stack.redis.port), true);
    const client = new pg.Client({ connectionString: stack.postgres.url });
    await client.connect();
    const { rows } = await client.query('SELECT current_database() AS db');
    await client.end();
    assert.equal(rows[0].db, 'telemetry');
  } finally {
    await stack.stop();
  }
  assert.equal(await ping(stack.redis.port), false, 'redis is gone');
  assert.equal(existsSync(stack.redis.dataDir), false);
  assert.equal(existsSync(stack.postgres.dataDir), false);
});

test('PostgreSQL can be halted and resumed on the same port with its data', async () => {
  const stack = await startStack();
  try {
    const q = async (sql: string) => {
      const c = new pg.Client({ connectionString: stack.postgres.url });
      await c.connect();
      try {
        return (await c.query(sql)).rows;
      } finally {
        await c.end();
      }
    };
    await q('CREATE TABLE t (x int); INSERT INTO t VALUES (42)');
    await stack.postgres.halt();
    await assert.rejects(q('SELECT 1'));
    await stack.postgres.resume();
    assert.deepEqual(await q('SELECT x FROM t'), [{ x: 42 }]);
  } finally {
    await stack.stop();
  }
});
