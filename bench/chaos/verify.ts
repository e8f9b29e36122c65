import type pg from 'pg';
import { queueKeys, type RedisClient } from '@telemetryhub/queue';
import type { Ledger } from './ledger.js';
import { sealBuckets } from '../../apps/task-processor/src/store/rollup-sealer.js';
import { MINUTE_MS } from '../../apps/task-processor/src/store/rollup-seal.repo.js';
import { PartitionManager } from '../../apps/task-processor/src/store/partitions.js';

/** The run's verdict: what was acknowledged against what PostgreSQL and the DLQ hold. */
export interface Verdict {
  acknowledged: number;
  stored: number;
  /** Acknowledged event ids with no row. */
  lost: number;
  /** Rows beyond one per event id. */
  duplicates: number;
  /** Rows of event ids nobody acknowledged (poison that got stored, or an id changed on the way). */
  unexpected: number;
  dlq_entries: number;
  poison_sent: number;
  /** The DLQ's reasons, sorted, equal to the poison's. */
  dlq_matches_poison: boolean;
  /**
   * Minute and hour rollups equal a recomputation from the raw rows (count, sum, min, max), every minute sealed: the
   * folds of the processors that died and the seals that ran meanwhile counted each reading once.
   */
  rollups_exact: boolean;
  lost_sample: string[];
}

const ROLLUPS_DIFFER = (table: string, unit: string) => `
  SELECT count(*)::int AS n FROM (
    SELECT device_id, metric, date_trunc('${unit}', event_time) AS bucket,
           count(*) AS count, sum(value) AS sum, min(value) AS min, max(value) AS max
    FROM readings WHERE device_id LIKE 'chaos-%' GROUP BY 1, 2, 3
  ) raw FULL JOIN (SELECT * FROM ${table} WHERE device_id LIKE 'chaos-%') r USING (device_id, metric, bucket)
  WHERE raw.count IS DISTINCT FROM r.count OR raw.sum IS DISTINCT FROM r.sum
     OR raw.min IS DISTINCT FROM r.min OR raw.max IS DISTINCT FROM r.max`;

export async function verify(db: pg.Pool, redis: RedisClient, queue: string, ledger: Ledger): Promise<Verdict> {
  const { rows } = await db.query<{ event_id: string; n: number }>(
    `SELECT event_id::text, count(*)::int AS n FROM readings WHERE device_id LIKE 'chaos-%' GROUP BY 1`,
  );
  const stored = new Map(rows.map((r) => [r.event_id, r.n]));
  const lost = [...ledger.acknowledged].filter((id) => !stored.has(id));
  const duplicates = rows.reduce((n, r) => n + r.n - 1, 0);
  const unexpected = rows.filter((r) => !ledger.acknowledged.has(r.event_id)).length;
  const dead = (await redis.lrange(queueKeys(queue).failed, 0, -1)).map(
    (raw) => (JSON.parse(raw) as { reason: string }).reason,
  );
  // The run's minutes not sealed yet (the processors seal each a minute after it ends) are sealed now, so that the
  // minute rows compared are all the table's: written by the seals and by the folds of late readings.
  await sealBuckets(db, new PartitionManager(db), '1m', (Math.floor(Date.now() / MINUTE_MS) + 1) * MINUTE_MS, 24 * 60);
  const differ = await Promise.all([
    db.query<{ n: number }>(ROLLUPS_DIFFER('rollups_1m', 'minute')),
    db.query<{ n: number }>(ROLLUPS_DIFFER('rollups_1h_all', 'hour')),
  ]);
  return {
    acknowledged: ledger.acknowledged.size,
    stored: stored.size,
    lost: lost.length,
    duplicates,
    unexpected,
    dlq_entries: dead.length,
    poison_sent: ledger.poison.length,
    dlq_matches_poison: JSON.stringify([...dead].sort()) === JSON.stringify(ledger.poison.map((p) => p.reason).sort()),
    rollups_exact: differ.every((d) => d.rows[0]!.n === 0),
    lost_sample: lost.slice(0, 5),
  };
}
