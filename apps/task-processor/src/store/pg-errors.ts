/**
 * How a database failure should be handled, decided by SQLSTATE (`err.code`), never by message text:
 * - `unavailable`: the database cannot be reached or is going away — connection exceptions (08), insufficient
 *   resources (53), operator intervention / shutdown (57P01–57P03), system errors (58), and socket errors with no
 *   SQLSTATE (ECONNREFUSED, ECONNRESET, timeouts). Not the task's fault: hold the work, retry, count no attempt.
 * - `transient`: this statement lost a race — serialization failure (40001), deadlock (40P01), statement
 *   cancelled by timeout (57014). Retry the task later through the queue's backoff, counting an attempt.
 * - `data`: a value is wrong — data exceptions (22: out of range, invalid text, overflow), integrity violations
 *   (23) other than the unique violation a duplicate raises — so retrying cannot help, but the rest of the batch is
 *   not to blame: narrow it down to the readings at fault and dead-letter only those.
 * - `permanent`: anything else retrying cannot help — syntax or access (42), a unique violation outside the dedup
 *   path, … — so the task is dead-lettered whole.
 * Never `unavailable` for an error PostgreSQL answered with a data or syntax class: the server is there.
 */
export type DbFailureKind = 'unavailable' | 'transient' | 'data' | 'permanent';

const UNIQUE_VIOLATION = '23505';

export function classifyDbError(err: unknown): DbFailureKind {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return 'unavailable'; // socket-level failure or timeout: no answer from the server
  if (/^[A-Z_]+$/.test(code)) return 'unavailable'; // Node errno (ECONNREFUSED, ECONNRESET, ETIMEDOUT…)
  const cls = code.slice(0, 2);
  if (cls === '08' || cls === '53' || cls === '58') return 'unavailable';
  if (code === '57P01' || code === '57P02' || code === '57P03') return 'unavailable';
  if (code === '40001' || code === '40P01' || code === '57014') return 'transient';
  if (cls === '22' || (cls === '23' && code !== UNIQUE_VIOLATION)) return 'data';
  return 'permanent';
}
