import type pg from 'pg';

/** The write-ahead log a PostgreSQL server has written so far (pg_stat_wal): bytes and full-page images. */
export interface WalSoFar {
  bytes: number;
  /** Pages written whole: the first change to a page after a checkpoint, with full-page writes on (the default). */
  fullPages: number;
}

/**
 * Bytes from the WAL insert position, exact the moment it is read. pg_stat_wal's `wal_bytes` would do too, but
 * each backend adds its share there at most once a second, so a phase's last second could be missing (a short
 * COPY read as no WAL at all); its full-page count has that lag, which is why it is only a rough figure.
 */
export async function walSoFar(db: pg.Pool | pg.ClientBase): Promise<WalSoFar> {
  const { rows } = await db.query<{ bytes: string; fpi: string }>(
    `SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0') AS bytes, wal_fpi AS fpi FROM pg_stat_wal`,
  );
  return { bytes: Number(rows[0]!.bytes), fullPages: Number(rows[0]!.fpi) };
}

/** WAL written between two readings, per event. */
export function walPerEvent(before: WalSoFar, after: WalSoFar, events: number): WalSoFar {
  return { bytes: (after.bytes - before.bytes) / events, fullPages: (after.fullPages - before.fullPages) / events };
}
