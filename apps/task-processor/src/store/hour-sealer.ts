import type pg from 'pg';
import type { Logger } from 'pino';
import { PeriodicTask, briefError } from '@telemetryhub/service-kit';
import type { ProcessorMetrics } from '../metrics/processor-metrics.js';
import { PARTITIONED_TABLES, type PartitionManager } from './partitions.js';
import { HOUR_MS, HOUR_SEAL_LOCK_CLASS, sealedBefore } from './hour-seal.repo.js';

/** Advisory lock key of sealing ("th-seal" as a number): one seal at a time, whichever replica runs it. */
export const SEALING_LOCK_KEY = 0x74682d7365616cn;
/** How long one statement of a seal may take (ms). */
const SEAL_STATEMENT_TIMEOUT_MS = 600_000;

export interface SealRun {
  /** Hours sealed by this run. */
  hours: number;
  /** Hour rows they wrote. */
  rows: number;
  /** Where the seal stands after the run (ms). */
  sealedBeforeMs: number;
}

/**
 * Seals the hours that ended at or before `untilMs`, oldest first, at most `maxHours` of them: each in its own
 * transaction, holding the hour's lock alone (it waits for the folds writing minute rows of that hour to commit,
 * and such folds wait for it), its rows computed from its minute rows (`rollups_1h_open`; any rows it already had —
 * from before sealing existed — replaced) and the seal moved past it. One seal at a time (its own lock): a replica that then
 * finds the hour already sealed moves on.
 */
export async function sealHours(
  pool: pg.Pool,
  partitions: PartitionManager,
  untilMs: number,
  maxHours: number,
): Promise<SealRun> {
  const run: SealRun = { hours: 0, rows: 0, sealedBeforeMs: NaN };
  for (;;) {
    if (run.hours >= maxHours) return run;
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      // An hour of a large fleet is millions of minute rows in one aggregate: more than the pool's statement
      // timeout, which is sized for the hot path, may be needed — and a seal that always timed out never would.
      await client.query(`SET LOCAL statement_timeout = ${SEAL_STATEMENT_TIMEOUT_MS}`);
      await client.query('SELECT pg_advisory_xact_lock($1)', [SEALING_LOCK_KEY.toString()]);
      const hour = await sealedBefore(client);
      run.sealedBeforeMs = hour;
      if (hour + HOUR_MS > untilMs) {
        await client.query('ROLLBACK');
        return run;
      }
      // Waits for the folds writing this hour's minute rows to commit; folds of later hours go on.
      await client.query('SELECT pg_advisory_xact_lock($1, $2)', [HOUR_SEAL_LOCK_CLASS, hour / HOUR_MS]);
      const at = new Date(hour).toISOString();
      await partitions.ensure(PARTITIONED_TABLES.rollups_1h, [hour]);
      // The hour from its minute rows, as they are at the seal. A row the hour already has (upserted by a processor
      // from before sealing existed, which wrote its minute rows in the same transaction) is replaced: found by its
      // key, where deleting the hour's rows first would scan the month's partition by bucket.
      const inserted = await client.query(
        `INSERT INTO rollups_1h (device_id, metric, bucket, count, sum, min, max, m2)
         SELECT device_id, metric, bucket, count, sum, min, max, m2 FROM rollups_1h_open WHERE bucket = $1
         ON CONFLICT (device_id, metric, bucket) DO UPDATE
           SET count = EXCLUDED.count, sum = EXCLUDED.sum, min = EXCLUDED.min, max = EXCLUDED.max, m2 = EXCLUDED.m2`,
        [at],
      );
      await client.query(`UPDATE rollup_seals SET sealed_before = $1 WHERE granularity = '1h'`, [
        new Date(hour + HOUR_MS).toISOString(),
      ]);
      await client.query('COMMIT');
      run.hours++;
      run.rows += inserted.rowCount ?? 0;
      run.sealedBeforeMs = hour + HOUR_MS;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }
}

export interface HourSealerOptions {
  /** How often to look for an hour to seal (ms). */
  intervalMs: number;
  /** An hour is sealed this long after it ends (ms): readings still on their way then fold into minutes only. */
  graceMs: number;
  /** Hours sealed per run at most (catching up after a long stop goes on at the next run). */
  maxHoursPerRun: number;
}

export const DEFAULT_HOUR_SEALER: HourSealerOptions = { intervalMs: 30_000, graceMs: 120_000, maxHoursPerRun: 24 };

/**
 * Seals each hour's rollups from its minute rows a grace period after it ends, on a timer, until stopped. Any
 * replica may run it: the seal's lock makes them take turns, and an hour is sealed once. A reading that arrives
 * after its hour was sealed is upserted into the hour row by its fold, as before sealing existed — exact either way.
 */
export class HourSealer {
  private readonly options: HourSealerOptions;
  private readonly periodic: PeriodicTask;

  constructor(
    private readonly deps: {
      pool: pg.Pool;
      partitions: PartitionManager;
      metrics: ProcessorMetrics;
      log: Logger;
      options?: Partial<HourSealerOptions>;
    },
  ) {
    this.options = { ...DEFAULT_HOUR_SEALER, ...deps.options };
    this.periodic = new PeriodicTask(() => this.runOnce(), this.options.intervalMs);
  }

  /** Seals at once (a restart after a long stop catches up) and then every interval. */
  start(): void {
    this.periodic.start({ now: true });
  }

  /** One run; never throws (a failure is logged, counted and retried at the next interval). */
  async runOnce(nowMs = Date.now()): Promise<SealRun | null> {
    const { metrics, log, pool, partitions } = this.deps;
    const started = performance.now();
    try {
      const run = await sealHours(pool, partitions, nowMs - this.options.graceMs, this.options.maxHoursPerRun);
      metrics.hourSealRuns.inc({ outcome: 'done' });
      metrics.hoursSealed.inc(run.hours);
      metrics.hourSealedBefore.set(run.sealedBeforeMs / 1000);
      if (run.hours) {
        const ms = Math.round(performance.now() - started);
        const before = new Date(run.sealedBeforeMs).toISOString();
        log.info({ hours: run.hours, rows: run.rows, sealedBefore: before, ms }, 'sealed hour rollups');
      }
      return run;
    } catch (err) {
      metrics.hourSealRuns.inc({ outcome: 'failed' });
      log.warn({ err: briefError(err) }, 'sealing hour rollups failed; will retry at the next interval');
      return null;
    }
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }
}
