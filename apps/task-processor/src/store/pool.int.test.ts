import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { PostgresServer } from '@telemetryhub/testkit';
import { createPgPool } from './pool.js';

let server: PostgresServer;
before(async () => {
  server = await PostgresServer.start();
});
after(async () => {
  await server.stop();
});

test('a session frozen inside a transaction loses its locks after the statement timeout, not never', async () => {
  const pool = createPgPool(server.url, { max: 2, statementTimeoutMs: 6000 }, pino({ level: 'silent' }));
  try {
    await pool.query('CREATE TABLE frozen_locks (id int PRIMARY KEY)');
    const frozen = await pool.connect();
    // No 'error' listener of our own: the server ends this session while it is checked out, and the pool's
    // listener must keep that from being an uncaught 'error' (it ended a resumed processor in CI).
    try {
      await frozen.query('BEGIN');
      await frozen.query('INSERT INTO frozen_locks VALUES (1)');
      // The frozen processor now sends nothing; another one inserts the same key, as a reaped batch's retry does.
      // Without the idle-in-transaction timeout (here 2 s) this waits on the frozen lock until its own statement
      // timeout (6 s) fails it.
      const other = await pool.query('INSERT INTO frozen_locks VALUES (1) ON CONFLICT (id) DO NOTHING');
      assert.equal(other.rowCount, 1, 'the frozen transaction was rolled back by the server, so the row is new');
      await assert.rejects(frozen.query('COMMIT'), 'the frozen session is gone when it resumes');
    } finally {
      frozen.release(true);
    }
  } finally {
    await pool.end();
  }
});
