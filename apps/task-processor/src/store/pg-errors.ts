/**
 * Retryable or permanent, decided by SQLSTATE (`err.code`), never by message text.
 * - retryable: the same statement may succeed later — connection exceptions (08), serialization failure
 *   (40001), deadlock (40P01), insufficient resources (53), operator intervention / shutdown (57P01–57P03),
 *   system errors (58), and Node socket errors (no SQLSTATE at all, e.g. ECONNREFUSED, timeouts).
 * - permanent: the data is wrong — data exceptions (22), integrity violations (23), syntax/access (42), … — so
 *   retrying cannot help: dead-letter.
 */
export function isRetryableDbError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return true; // socket-level failure or timeout: no answer from the server
  if (/^[A-Z]+$/.test(code)) return true; // Node errno (ECONNREFUSED, ECONNRESET, ETIMEDOUT…)
  const cls = code.slice(0, 2);
  if (cls === '08' || cls === '53' || cls === '58') return true;
  if (code === '40001' || code === '40P01') return true;
  if (code === '57P01' || code === '57P02' || code === '57P03' || code === '57014') return true;
  return false;
}
