import pg from 'pg';
import type { Logger } from 'pino';
import { briefError } from '@telemetryhub/service-kit';

export interface PgPoolOptions {
  max: number;
  statementTimeoutMs: number;
  connectionTimeoutMs?: number;
}

/**
 * The one PostgreSQL pool. Timeouts on connect and on every statement; a client losing its connection (server
 * restart, session ended by the server), idle or in use, is logged and dropped, never an uncaught 'error'.
 * A session left idle inside a transaction for a third of the statement timeout is ended by the server: a processor
 * frozen mid-batch (SIGSTOP, a long GC pause, a partition) would otherwise hold its row locks, and every other processor inserting the same
 * event ids would wait on them for as long as it stays frozen. Shorter than the statement timeout, so that the
 * session waiting on those locks outlives the frozen one instead of racing it (a tie failed both in CI). Our
 * transactions send their statements back to back, so a healthy one is never idle for long.
 */
export function createPgPool(url: string, opts: PgPoolOptions, log: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max,
    connectionTimeoutMillis: opts.connectionTimeoutMs ?? 5000,
    statement_timeout: opts.statementTimeoutMs,
    idle_in_transaction_session_timeout: Math.max(1, Math.floor(opts.statementTimeoutMs / 3)),
    query_timeout: opts.statementTimeoutMs + 1000,
    idleTimeoutMillis: 30_000,
    application_name: 'telemetryhub-task-processor',
  });
  pool.on('error', (err) => log.warn({ err: briefError(err) }, 'idle PostgreSQL client failed'));
  // The pool listens for errors on idle clients only. A client checked out when its connection ends (the server
  // ending a session idle in a transaction while this process was frozen, a server restart) emits 'error' too,
  // and an 'error' nobody listens to ends the process. Its next query fails instead, and the pool drops it on
  // release (it is no longer queryable).
  pool.on('connect', (client) => {
    client.on('error', (err) => log.warn({ err: briefError(err) }, 'PostgreSQL connection of a client in use ended'));
  });
  return pool;
}
