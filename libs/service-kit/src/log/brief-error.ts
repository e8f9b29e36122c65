/**
 * An error as a short log field (`{ message, code? }`) for failures that are expected and retried — a
 * connection refused, a timeout — where a stack on every retry would drown the log. Unexpected errors are
 * logged whole (`{ err }`), for pino's serializer.
 */
export function briefError(err: unknown): { message: string; code?: string } {
  const e = err as { message?: unknown; code?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return typeof e?.code === 'string' ? { message, code: e.code } : { message };
}
