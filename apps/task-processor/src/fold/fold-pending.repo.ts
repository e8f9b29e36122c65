import type pg from 'pg';
import type { Reading } from '@telemetryhub/schemas';
import { isoUtc } from '../store/sql-time.js';

/** A committed batch whose readings still need folding (migration 0009). */
export interface PendingBatch {
  batchId: string;
  /** The tasks whose readings the batch stored, with the fold steps of each (bit set; see fold/fold-work.ts). */
  taskIds: string[];
  taskSteps: number[];
  minMs: number;
  maxMs: number;
  readings: number;
  /**
   * Where the minute seal stood when the batch stored its readings (ms): its readings of later minutes are
   * counted by their seal, not by its fold. Absent for a batch that rolls nothing up, or stored by a processor from
   * before minutes were sealed (which rolled up all of its readings itself).
   */
  minutesSealedBeforeMs?: number;
}

/** Records a batch in the ledger, in the batch's own transaction. */
export async function insertPending(client: pg.PoolClient, owner: string, batch: PendingBatch): Promise<void> {
  await client.query(
    `INSERT INTO fold_pending (batch_id, owner, task_ids, task_steps, min_time, max_time, readings, minutes_sealed_before)
     VALUES ($1, $2, $3::text[], $4::int2[], $5, $6, $7, $8)`,
    [
      batch.batchId,
      owner,
      batch.taskIds,
      batch.taskSteps,
      new Date(batch.minMs).toISOString(),
      new Date(batch.maxMs).toISOString(),
      batch.readings,
      batch.minutesSealedBeforeMs === undefined ? null : new Date(batch.minutesSealedBeforeMs).toISOString(),
    ],
  );
}

/**
 * Takes these batches out of the ledger, in the folding transaction; returns the ids really taken, each with the
 * start of the transaction that stored it (what readingsOfBatch needs to read its readings back). A batch missing
 * from the answer was taken by another transaction (an orphan sweep): its readings are folded there, not here.
 */
export async function claimPending(client: pg.PoolClient, batchIds: readonly string[]): Promise<Map<string, string>> {
  if (!batchIds.length) return new Map();
  const { rows } = await client.query<{ batch_id: string; stored_at: string }>(
    'DELETE FROM fold_pending WHERE batch_id = ANY($1::uuid[]) RETURNING batch_id::text, created_at::text AS stored_at',
    [batchIds],
  );
  return new Map(rows.map((r) => [r.batch_id, r.stored_at]));
}

/** A ledger batch with the start of the transaction that stored its readings (what readingsOfBatch needs). */
export interface StoredBatch extends PendingBatch {
  storedAt: string;
}

/** A ledger row taken by the orphan sweep; `storedMs` is `storedAt` in ms. */
export interface OrphanBatch extends StoredBatch {
  storedMs: number;
}

/**
 * Takes up to `limit` batches recorded more than `olderThanMs` ago — their processor died, or its fold has been
 * failing that long — skipping rows another transaction holds. In the folding transaction.
 */
export async function claimOrphans(client: pg.PoolClient, olderThanMs: number, limit: number): Promise<OrphanBatch[]> {
  const { rows } = await client.query<{
    batch_id: string;
    task_ids: string[];
    task_steps: number[];
    min_ms: string;
    max_ms: string;
    readings: number;
    stored_at: string;
    stored_ms: number;
    minutes_sealed_ms: number | null;
  }>(
    `DELETE FROM fold_pending WHERE batch_id IN (
       SELECT batch_id FROM fold_pending
        WHERE created_at < now() - make_interval(secs => $1::float8 / 1000)
        ORDER BY created_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED)
     RETURNING batch_id::text, task_ids, task_steps,
               (extract(epoch FROM min_time) * 1000)::int8 AS min_ms, (extract(epoch FROM max_time) * 1000)::int8 AS max_ms,
               readings, created_at::text AS stored_at, (extract(epoch FROM created_at) * 1000)::float8 AS stored_ms,
               (extract(epoch FROM minutes_sealed_before) * 1000)::float8 AS minutes_sealed_ms`,
    [olderThanMs, limit],
  );
  return rows.map((r) => ({
    batchId: r.batch_id,
    taskIds: r.task_ids,
    taskSteps: r.task_steps,
    minMs: Number(r.min_ms),
    maxMs: Number(r.max_ms),
    readings: r.readings,
    storedAt: r.stored_at,
    storedMs: r.stored_ms,
    ...(r.minutes_sealed_ms === null ? {} : { minutesSealedBeforeMs: r.minutes_sealed_ms }),
  }));
}

/** A raw row read back for folding, with the task that stored it. */
export interface StoredReading {
  reading: Reading;
  taskId: string;
}

/**
 * The readings a ledger batch stored, read back from the raw table: rows of its tasks written by its transaction
 * (`stored_at` is that transaction's start), within its event-time span (which prunes partitions; the span is
 * kept in whole milliseconds, so its end is taken one past).
 */
export async function readingsOfBatch(client: pg.PoolClient, batch: StoredBatch): Promise<StoredReading[]> {
  const { rows } = await client.query<Reading & { task_id: string; value: number; sequence_id: string | null }>(
    `SELECT event_id::text AS event_id, device_id, metric, ${isoUtc('event_time')} AS event_time, value, unit, site,
            region, firmware, schema_version, sequence_id, task_id
       FROM readings
      WHERE event_time >= $1 AND event_time < $2 AND stored_at = $3::timestamptz AND task_id = ANY($4::text[])
      ORDER BY event_time, event_id`,
    [new Date(batch.minMs).toISOString(), new Date(batch.maxMs + 1).toISOString(), batch.storedAt, batch.taskIds],
  );
  return rows.map(({ task_id, sequence_id, ...r }) => ({
    reading: { ...r, sequence_id: sequence_id === null ? null : Number(sequence_id) },
    taskId: task_id,
  }));
}

/** Batches in the ledger (the fold's backlog, for metrics and tests). */
export async function pendingCount(db: pg.Pool | pg.PoolClient): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM fold_pending');
  return Number(rows[0]!.n);
}
