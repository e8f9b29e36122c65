import type pg from 'pg';
import type { Logger } from 'pino';
import { PeriodicTask, briefError } from '@telemetryhub/service-kit';
import { STORABLE } from '@telemetryhub/schemas';
import type { ProcessorMetrics } from '../metrics/processor-metrics.js';
import { PARTITIONED_TABLES, partitionFor, type PartitionManager } from './partitions.js';
import { BUCKET_MS, type Granularity } from './rollup-buckets.js';
import { SEAL_LOCK_CLASS, sealedBefore } from './rollup-seal.repo.js';
import { ADD_TO_ROLLUP_ROW } from './rollup.repo.js';

/** Advisory lock key of sealing ("th-seal" as a number): one seal at a time, whichever replica runs it. */
export const SEALING_LOCK_KEY = 0x74682d7365616cn;
/** How long one statement of a seal may take (ms). */
const SEAL_STATEMENT_TIMEOUT_MS = 600_000;
/** Memory a seal's aggregate may take before it spills to disk (a minute of 50,000 series hashes in 18 MB). */
const SEAL_WORK_MEM = '128MB';

export interface SealRun {
  /** Buckets sealed by this run. */
  buckets: number;
  /** Rollup rows they wrote. */
  rows: number;
  /** Where the seal stands after the run (ms). */
  sealedBeforeMs: number;
}

/**
 * How a granularity's bucket is sealed: the statement writing its rows from what it is computed from, and the finer
 * seal it waits for, if any.
 */
interface SealSpec {
  /** The bucket's rows, written into its table. */
  sql: string;
  /** The statement's parameters for the bucket starting at `start` and ending before `end` (ISO instants). */
  args: (start: string, end: string) => string[];
  /**
   * Run before the statement, in its transaction, with the bucket's start (ms): the statement's plan settings, what
   * it reads made ready.
   */
  prepare?: (client: pg.PoolClient, startMs: number) => Promise<void>;
  /** A bucket is sealed only once this granularity's seal has passed its end. */
  after?: Granularity;
}

const SEALS: Readonly<Record<Granularity, SealSpec>> = {
  // A minute from its raw readings that count in the rollups. Added to any row the minute has, never replacing it:
  // such a row holds readings the seal does not count (stored by a processor from before sealing, which upserts
  // them itself), merged by the pairwise update as a fold's upsert merges.
  '1m': {
    sql: `INSERT INTO rollups_1m AS r (device_id, metric, bucket, count, sum, min, max, m2)
          SELECT device_id, metric, $1::timestamptz, count(*), sum(value), min(value), max(value),
                 CASE WHEN max(abs(value)) <= ${STORABLE.maxAbsValue}::float8 THEN var_pop(value) * count(*) END
            FROM readings
           WHERE in_rollups AND event_time >= $1 AND event_time < $2
           GROUP BY device_id, metric
          ${ADD_TO_ROLLUP_ROW}`,
    args: (start, end) => [start, end],
    prepare: async (client, startMs) => {
      // The plan the minute needs, whatever the planner's statistics say — a day partition just begun has none, and
      // its guesses read the whole partition for every minute (13 s for an hour's minutes after a million rows):
      // the minute's rows found by the BRIN index, its groups (one per series) hashed in memory, not sorted on disk
      // (one seal runs at a time, so that memory is taken once), by one process — parallel workers took 2.6 times
      // the CPU for the same million rows, on a machine the processors share.
      await client.query(
        `SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off; SET LOCAL max_parallel_workers_per_gather = 0;
         SET LOCAL work_mem = '${SEAL_WORK_MEM}'`,
      );
      // The BRIN index finds the minute's raw rows only in the page ranges it has summarised: every scan reads all
      // the others. Ranges are summarised by autovacuum, at its own pace; here the minute's day partition has its
      // new ranges summarised first, reading the rows written since the last seal once (0.4 s a million rows), so
      // that the seal reads only its minute's ranges (0.9 s a million rows, aggregated).
      await client.query(
        `SELECT brin_summarize_new_values(x.indexrelid)
           FROM pg_index x JOIN pg_inherits i ON i.inhrelid = x.indexrelid
          WHERE i.inhparent = 'readings_event_time_brin'::regclass AND x.indrelid = to_regclass($1)`,
        [partitionFor(PARTITIONED_TABLES.readings, startMs).name],
      );
    },
  },
  // An hour from its minute rows, as they are at the seal (`rollups_1h_open`). A row the hour already has (upserted
  // by a processor from before sealing, which wrote its minute rows in the same transaction) is replaced: found by
  // its key, where deleting the hour's rows first would scan the month's partition by bucket.
  '1h': {
    sql: `INSERT INTO rollups_1h (device_id, metric, bucket, count, sum, min, max, m2)
          SELECT device_id, metric, bucket, count, sum, min, max, m2 FROM rollups_1h_open
           WHERE bucket = $1
          ON CONFLICT (device_id, metric, bucket) DO UPDATE
            SET count = EXCLUDED.count, sum = EXCLUDED.sum, min = EXCLUDED.min, max = EXCLUDED.max, m2 = EXCLUDED.m2`,
    args: (start) => [start],
    after: '1m',
  },
};

/**
 * Seals the `granularity` buckets that ended at or before `untilMs`, oldest first, at most `max` of them: each in
 * its own transaction, holding the bucket's lock alone (it waits for the transactions writing what the bucket is
 * computed from to commit, and such transactions wait for it), its rows computed once and the seal moved past it.
 * One seal at a time, of either granularity (its own lock): a replica that then finds the bucket already sealed
 * moves on.
 */
export async function sealBuckets(
  pool: pg.Pool,
  partitions: PartitionManager,
  granularity: Granularity,
  untilMs: number,
  max: number,
): Promise<SealRun> {
  const spec = SEALS[granularity];
  const size = BUCKET_MS[granularity];
  const run: SealRun = { buckets: 0, rows: 0, sealedBeforeMs: NaN };
  for (;;) {
    if (run.buckets >= max) return run;
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      // An hour of a large fleet is millions of minute rows in one aggregate: more than the pool's statement
      // timeout, which is sized for the hot path, may be needed — and a seal that always timed out never would.
      await client.query(`SET LOCAL statement_timeout = ${SEAL_STATEMENT_TIMEOUT_MS}`);
      await client.query('SELECT pg_advisory_xact_lock($1)', [SEALING_LOCK_KEY.toString()]);
      const start = await sealedBefore(client, granularity);
      run.sealedBeforeMs = start;
      const until = spec.after ? Math.min(untilMs, await sealedBefore(client, spec.after)) : untilMs;
      if (start + size > until) {
        await client.query('ROLLBACK');
        return run;
      }
      // Waits for the transactions writing this bucket's sources to commit; those of later buckets go on.
      await client.query('SELECT pg_advisory_xact_lock($1, $2)', [SEAL_LOCK_CLASS[granularity], start / size]);
      await partitions.ensure(PARTITIONED_TABLES[`rollups_${granularity}`], [start]);
      await spec.prepare?.(client, start);
      const written = await client.query(
        spec.sql,
        spec.args(new Date(start).toISOString(), new Date(start + size).toISOString()),
      );
      await client.query(`UPDATE rollup_seals SET sealed_before = $1 WHERE granularity = $2`, [
        new Date(start + size).toISOString(),
        granularity,
      ]);
      await client.query('COMMIT');
      run.buckets++;
      run.rows += written.rowCount ?? 0;
      run.sealedBeforeMs = start + size;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }
}

export interface RollupSealerOptions {
  /** How often to look for buckets to seal (ms). */
  intervalMs: number;
  /**
   * A minute is sealed this long after it ends (ms): readings stored later are late, and their fold upserts the
   * minute row — exact either way, but each late reading then costs a row write the seal would have shared.
   */
  minuteGraceMs: number;
  /** An hour is sealed this long after it ends (ms), and once all its minutes are. */
  hourGraceMs: number;
  /** Buckets of each granularity sealed per run at most (catching up after a long stop goes on at the next run). */
  maxMinutesPerRun: number;
  maxHoursPerRun: number;
}

export const DEFAULT_ROLLUP_SEALER: RollupSealerOptions = {
  intervalMs: 10_000,
  minuteGraceMs: 60_000,
  hourGraceMs: 120_000,
  maxMinutesPerRun: 24 * 60,
  maxHoursPerRun: 24,
};

/**
 * Seals each minute's rollups from its raw readings, and each hour's from its minute rows, a grace period after
 * they end, on a timer, until stopped. Any replica may run it: the seal's lock makes them take turns, and a bucket
 * is sealed once. A reading stored after its minute was sealed is upserted into the minute row by its fold (and into
 * the hour row, if that is sealed too) — exact either way.
 */
export class RollupSealer {
  private readonly options: RollupSealerOptions;
  private readonly periodic: PeriodicTask;

  constructor(
    private readonly deps: {
      pool: pg.Pool;
      partitions: PartitionManager;
      metrics: ProcessorMetrics;
      log: Logger;
      options?: Partial<RollupSealerOptions>;
    },
  ) {
    this.options = { ...DEFAULT_ROLLUP_SEALER, ...deps.options };
    this.periodic = new PeriodicTask(() => this.runOnce(), this.options.intervalMs);
  }

  /** Seals at once (a restart after a long stop catches up) and then every interval. */
  start(): void {
    this.periodic.start({ now: true });
  }

  /** One run: minutes, then hours. Never throws (a failure is logged, counted and retried at the next interval). */
  async runOnce(nowMs = Date.now()): Promise<Record<Granularity, SealRun | null>> {
    const o = this.options;
    return {
      '1m': await this.seal('1m', nowMs - o.minuteGraceMs, o.maxMinutesPerRun),
      '1h': await this.seal('1h', nowMs - o.hourGraceMs, o.maxHoursPerRun),
    };
  }

  private async seal(granularity: Granularity, untilMs: number, max: number): Promise<SealRun | null> {
    const { metrics, log, pool, partitions } = this.deps;
    const started = performance.now();
    try {
      const run = await sealBuckets(pool, partitions, granularity, untilMs, max);
      metrics.rollupSealRuns.inc({ granularity, outcome: 'done' });
      metrics.rollupBucketsSealed.inc({ granularity }, run.buckets);
      metrics.rollupSealedBefore.set({ granularity }, run.sealedBeforeMs / 1000);
      // Minutes are sealed every few seconds: logged only when a run catches up on more than one.
      if (run.buckets > (granularity === '1m' ? 1 : 0)) {
        const ms = Math.round(performance.now() - started);
        const before = new Date(run.sealedBeforeMs).toISOString();
        log.info({ granularity, buckets: run.buckets, rows: run.rows, sealedBefore: before, ms }, 'sealed rollups');
      }
      return run;
    } catch (err) {
      metrics.rollupSealRuns.inc({ granularity, outcome: 'failed' });
      log.warn({ err: briefError(err), granularity }, 'sealing rollups failed; will retry at the next interval');
      return null;
    }
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }
}
