import type pg from 'pg';
import { processTreeCpuSeconds } from './process-stats.js';

/**
 * The cleanup a phase of writes leaves PostgreSQL — dead row versions to reclaim, new pages to mark all-visible,
 * statistics to refresh, dirty pages to write out — done at once by `VACUUM (ANALYZE)` of the whole database and a
 * `CHECKPOINT` right after the phase, and measured as PostgreSQL's CPU per event of that phase. Autovacuum and the
 * checkpointer would do the same work a little later, inside whichever phase ran next, billing one contender for
 * another's writes; done here, every phase starts on a clean server and its own cleanup is reported beside it.
 */
export async function cleanupCpuMicrosPerEvent(
  db: pg.Pool,
  postgresPid: number | undefined,
  events: number,
): Promise<number> {
  const before = await processTreeCpuSeconds(postgresPid);
  await cleanUp(db);
  return ((await processTreeCpuSeconds(postgresPid)) - before) / events / 1e-6;
}

/** The same cleanup, unmeasured: for a phase whose cleanup is not reported, so that the next starts clean. */
export async function cleanUp(db: pg.Pool): Promise<void> {
  await db.query('VACUUM (ANALYZE)');
  await db.query('CHECKPOINT');
}
