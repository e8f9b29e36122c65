import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
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

test('PostgreSQL crashes (a backend SIGKILLed): every connection is reset, committed data survives recovery', async () => {
  const stack = await startStack({ postgres: { durable: true } });
  try {
    const open = new pg.Client({ connectionString: stack.postgres.url });
    open.on('error', () => {});
    await open.connect();
    await open.query('CREATE TABLE t (x int); INSERT INTO t VALUES (7)');
    const other = new pg.Client({ connectionString: stack.postgres.url });
    other.on('error', () => {});
    await other.connect();
    await stack.postgres.crash();
    await assert.rejects(other.query('SELECT 1'), 'the other connection was reset too');
    const c = new pg.Client({ connectionString: stack.postgres.url });
    await c.connect();
    assert.deepEqual((await c.query('SELECT x FROM t')).rows, [{ x: 7 }]);
    await c.end();
  } finally {
    await stack.stop();
  }
});

test('Redis killed with SIGKILL comes back from its append-only file', async () => {
  const stack = await startStack({ redis: { appendOnly: true } });
  const command = (line: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = createConnection(stack.redis.port, '127.0.0.1');
      socket.once('data', (d) => {
        socket.end();
        resolve(d.toString());
      });
      socket.once('error', reject);
      socket.write(`${line}\r\n`);
    });
  try {
    assert.equal(await command('SET k v'), '+OK\r\n');
    await stack.redis.restart('SIGKILL');
    assert.equal(await command('GET k'), '$1\r\nv\r\n');
  } finally {
    await stack.stop();
  }
});
