import type pg from 'pg';
import { processCpuSeconds, processTreeCpuSeconds } from './process-stats.js';

/** PostgreSQL's CPU seconds so far: in all, and per live process with its role. */
export interface PostgresCpu {
  /** Every server process, those already exited included. */
  total: number;
  processes: Map<number, { role: 'client' | 'background' | 'other'; seconds: number }>;
}

/** Checkpointer, background writer and WAL writer: writing the pages and the log out. */
const BACKGROUND = new Set(['checkpointer', 'background writer', 'walwriter']);

/** PostgreSQL's CPU so far, read from /proc for each process pg_stat_activity lists (Linux). */
export async function postgresCpu(db: pg.Pool, postmasterPid: number | undefined): Promise<PostgresCpu> {
  const { rows } = await db.query<{ pid: number; backend_type: string }>(
    'SELECT pid, backend_type FROM pg_stat_activity',
  );
  const processes: PostgresCpu['processes'] = new Map();
  for (const r of rows) {
    const role =
      r.backend_type === 'client backend' ? 'client' : BACKGROUND.has(r.backend_type) ? 'background' : 'other';
    processes.set(r.pid, { role, seconds: (await processCpuSeconds(r.pid)) || 0 });
  }
  return { total: await processTreeCpuSeconds(postmasterPid), processes };
}

/**
 * CPU µs per event between two readings: in all; by the client backends (the statements themselves) and the
 * background writers, counted per process alive at the end (from zero for those that started in between); and the
 * rest — autovacuum workers and any process that exited in between, whose time only the total sees.
 */
export function postgresCpuPerEvent(before: PostgresCpu, after: PostgresCpu, events: number) {
  const us = (s: number) => Number(((s * 1e6) / events).toFixed(1));
  const spent = { client: 0, background: 0 };
  for (const [pid, p] of after.processes) {
    if (p.role === 'other') continue;
    spent[p.role] += p.seconds - (before.processes.get(pid)?.seconds ?? 0);
  }
  const total = after.total - before.total;
  return {
    total: us(total),
    client: us(spent.client),
    background: us(spent.background),
    rest: us(total - spent.client - spent.background),
  };
}
