import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';
import { briefError } from '@telemetryhub/service-kit';
import type { ProcessorMetrics } from '../metrics/processor-metrics.js';
import type { PartitionManager } from '../store/partitions.js';
import { ROLLUP_SCHEMES } from '../store/partitions.js';
import {
  claimOrphans,
  claimPending,
  insertPending,
  readingsOfBatch,
  type OrphanBatch,
  type PendingBatch,
  type StoredBatch,
} from './fold-pending.repo.js';
import {
  applyFold,
  emptyWork,
  FOLD_STEP,
  leaveOpenMinutesToSeal,
  type FoldOutcome,
  type FoldSettings,
  type FoldWork,
} from './fold-work.js';
import { FoldAggregate } from './fold-aggregate.js';
import { foldDue, type FoldSchedule } from './fold-schedule.js';
import type { LatestCache } from '../store/latest.cache.js';
import type { LatestValues } from '../store/latest-values.js';
import { KnownOutlierSeries } from '../outliers/outlier.repo.js';
import { DEFAULT_SERIES_CAPACITY, SeriesIndex } from '../domain/series-index.js';

export interface DeferredFoldOptions extends FoldSchedule {
  /** A ledger batch older than this (ms) is folded from its raw rows by whichever processor sweeps first. */
  orphanAfterMs: number;
  /** Readings held in memory at most: past it, storing the next batch waits for a fold (backpressure). */
  maxReadings: number;
  /** Series the index kept across folds numbers before a fold starts a new one (SeriesIndex: a bound on memory). */
  seriesCapacity: number;
}

export const DEFAULT_FOLD_OPTIONS: DeferredFoldOptions = {
  intervalMs: 1000,
  maxDelayMs: 10_000,
  readingsPerRow: 4,
  smallFoldRows: 1000,
  orphanAfterMs: 30_000,
  maxReadings: 400_000,
  seriesCapacity: DEFAULT_SERIES_CAPACITY,
};

/** A batch staged in its transaction, to hand to accept() once that transaction has committed. */
export interface StagedBatch {
  pending: PendingBatch;
  work: FoldWork;
}

/** The tasks of a batch and the fold steps each asks for. */
export interface TaskSteps {
  id: string;
  steps: number;
}

const SWEEP_LIMIT = 50;

/**
 * Folds stored readings into the derived tables (outlier state, devices, and the rollups of late readings) a beat
 * after they are stored, many batches per transaction, instead of once per batch: with a fleet of thousands of
 * series, a batch touches nearly as many rows as it has readings, and a fold touches each row once however many
 * batches arrived in between. A fold is due at a tick once it holds several readings per row it writes
 * (fold-schedule.ts), so the cost per reading stays about the same however large the fleet: a large fleet reporting
 * slowly is folded less often, up to `maxDelayMs`. What a fold will write is gathered as each batch is accepted (FoldAggregate:
 * series-sized, not reading-sized), so waiting for many readings of a large fleet costs little memory.
 *
 * Exactly once, through the ledger (`fold_pending`): a batch's transaction stores its readings and a ledger row
 * (stage); once committed, what the fold will write of them is gathered here (accept); the fold transaction
 * deletes the ledger rows of the batches it folds and folds only those whose row it deleted. A processor that dies
 * holding batches leaves their rows behind; after `orphanAfterMs` any processor (sweep) deletes them and folds the
 * same readings read back from the raw table. A batch is folded by whichever transaction deletes its row, and by no other: when a fold
 * deletes fewer rows than it holds batches (a sweep took some), its aggregate mixes in readings folded elsewhere, so
 * it folds the batches it did take from their raw rows instead, as the sweep does.
 *
 * Once a fold has committed, each series' newest reading among its batches goes to the latest-value cache (one
 * write per series per fold, not per batch; idempotent, newest wins, so the batches a sweep took need no care).
 */
export class DeferredFold {
  private readonly owner = randomUUID();
  /** Series whose outlier-state row exists: a fold creates only the others' rows. */
  private readonly knownOutliers = new KnownOutlierSeries();
  /** The series' numbers the aggregates' per-series columns use, kept from fold to fold. */
  private series: SeriesIndex;
  private held: PendingBatch[] = [];
  private gathered: FoldAggregate;
  private heldReadings = 0;
  /** When the first batch held now was accepted (performance.now()), if any is. */
  private heldSince: number | undefined;
  /** When the latest batch was accepted (performance.now()). */
  private lastAccepted = 0;
  private running: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly options: DeferredFoldOptions;

  constructor(
    private readonly deps: {
      pool: pg.Pool;
      partitions: PartitionManager;
      metrics: ProcessorMetrics;
      log: Logger;
      settings: FoldSettings;
      /** The latest-value cache, written with each series' newest reading once a fold has committed. */
      latest?: LatestCache;
      options?: Partial<DeferredFoldOptions>;
    },
  ) {
    this.options = { ...DEFAULT_FOLD_OPTIONS, ...deps.options };
    this.series = new SeriesIndex(this.options.seriesCapacity);
    this.gathered = this.emptyAggregate();
  }

  /** In the batch's transaction: records the batch in the ledger (nothing for a batch that stored nothing). */
  async stage(
    client: pg.PoolClient,
    work: FoldWork,
    tasks: readonly TaskSteps[],
    minutesSealedBeforeMs?: number,
  ): Promise<StagedBatch | undefined> {
    if (!work.readings.length) return undefined;
    const batchId = randomUUID();
    let minMs = Infinity;
    let maxMs = -Infinity;
    // An index loop: for-of in an async function costs an iterator result per reading.
    for (let i = 0; i < work.ms.length; i++) {
      const ms = work.ms[i]!;
      if (ms < minMs) minMs = ms;
      if (ms > maxMs) maxMs = ms;
    }
    const pending: PendingBatch = {
      batchId,
      taskIds: tasks.map((t) => t.id),
      taskSteps: tasks.map((t) => t.steps),
      minMs,
      maxMs,
      readings: work.readings.length,
      ...(minutesSealedBeforeMs === undefined ? {} : { minutesSealedBeforeMs }),
    };
    await insertPending(client, this.owner, pending);
    return { pending, work };
  }

  /** After the batch's commit: gathers its readings for the next fold; waits for one when too many are held. */
  async accept(batch: StagedBatch | undefined): Promise<void> {
    if (!batch) return;
    this.held.push(batch.pending);
    this.lastAccepted = performance.now();
    this.heldSince ??= this.lastAccepted;
    this.gathered.add(batch.work);
    this.heldReadings += batch.work.readings.length;
    this.deps.metrics.foldPendingReadings.set(this.heldReadings);
    if (this.heldReadings >= this.options.maxReadings) await this.flush();
  }

  /** Folds everything held now (and waits for a fold already running). Failures are logged; held data stays. */
  flush(): Promise<void> {
    this.running = this.running.then(() => this.foldHeld());
    return this.running;
  }

  /** Folds the batches orphaned in the ledger, from their raw rows. Returns how many it folded. */
  async sweep(): Promise<number> {
    let folded = 0;
    for (;;) {
      const n = await this.sweepOnce();
      folded += n;
      if (n < SWEEP_LIMIT) return folded;
    }
  }

  /** Folds what is held at a tick of the timer if it is due (fold-schedule.ts). */
  tick(): Promise<void> {
    if (this.heldSince === undefined) return this.running; // nothing held
    const g = this.gathered;
    const now = performance.now();
    const held = { readings: g.readings, rows: g.rows, ageMs: now - this.heldSince, quietMs: now - this.lastAccepted };
    return foldDue(held, this.options) ? this.flush() : this.running;
  }

  /** Folds on a timer, when due, and sweeps orphans every few intervals. */
  start(): void {
    const { intervalMs, orphanAfterMs } = this.options;
    this.timer = setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
    this.sweepTimer = setInterval(
      () => void this.sweep().catch((err) => this.deps.log.warn({ err: briefError(err) }, 'orphan fold failed')),
      Math.max(intervalMs, Math.min(orphanAfterMs / 3, 10_000)),
    );
    this.sweepTimer.unref();
  }

  /** Stops the timers and folds what is held (a clean shutdown leaves nothing to sweep). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.sweepTimer);
    await this.flush();
  }

  private async foldHeld(): Promise<void> {
    if (!this.held.length) return;
    const batches = this.held;
    const gathered = this.gathered;
    const heldSince = this.heldSince;
    this.held = [];
    this.gathered = this.emptyAggregate();
    this.heldSince = undefined;
    const started = performance.now();
    try {
      const outcome = await this.inTransaction(gathered.minutes.minuteStarts(), async (client) => {
        const taken = await claimPending(
          client,
          batches.map((b) => b.batchId),
        );
        if (taken.size === batches.length) return applyFold(client, gathered, this.deps.settings, this.knownOutliers);
        const fromRaw = new FoldAggregate(this.deps.settings);
        for (const b of batches) {
          const storedAt = taken.get(b.batchId);
          if (storedAt !== undefined) fromRaw.add(await recoveredWork(client, { ...b, storedAt }));
        }
        return applyFold(client, fromRaw, this.deps.settings, this.knownOutliers);
      });
      this.heldReadings -= gathered.readings;
      this.counted(outcome, 'memory', started);
      if (heldSince !== undefined) this.deps.metrics.foldHeldSeconds.set((started - heldSince) / 1000);
    } catch (err) {
      gathered.absorb(this.gathered);
      this.gathered = gathered;
      this.held = [...batches, ...this.held];
      this.heldSince = heldSince;
      this.deps.metrics.foldRuns.inc({ source: 'memory', outcome: 'failed' });
      this.deps.log.warn({ err: briefError(err), batches: batches.length }, 'fold failed; will retry');
      return;
    } finally {
      this.deps.metrics.foldPendingReadings.set(this.heldReadings);
    }
    // Every batch held was committed, whichever transaction folded it: its newest readings go to the cache —
    // outside the fold's try, so that nothing here can put batches already folded back.
    await this.writeLatest(gathered.latest);
  }

  private async sweepOnce(): Promise<number> {
    const started = performance.now();
    let orphans: OrphanBatch[] = [];
    let latest: LatestValues | undefined;
    // The orphans' event times are known only once claimed: their partitions are ensured inside (a no-op when
    // they exist, which they do: the rows' own partitions were ensured when they were stored).
    const outcome = await this.inTransaction([], async (client) => {
      orphans = await claimOrphans(client, this.options.orphanAfterMs, SWEEP_LIMIT);
      const fold = this.emptyAggregate();
      for (const batch of orphans) fold.add(await recoveredWork(client, batch), batch.storedMs);
      for (const scheme of ROLLUP_SCHEMES) await this.deps.partitions.ensure(scheme, fold.minutes.minuteStarts());
      latest = fold.latest;
      return applyFold(client, fold, this.deps.settings, this.knownOutliers);
    });
    if (orphans.length) {
      this.counted(outcome, 'orphan', started);
      await this.writeLatest(latest);
      this.deps.log.info({ batches: orphans.length }, 'folded batches a stopped processor left in the ledger');
    }
    return orphans.length;
  }

  private async inTransaction(times: readonly number[], body: (c: pg.PoolClient) => Promise<FoldOutcome>) {
    for (const scheme of ROLLUP_SCHEMES) await this.deps.partitions.ensure(scheme, times);
    const client = await this.deps.pool.connect();
    try {
      await client.query('BEGIN');
      const outcome = await body(client);
      await client.query('COMMIT');
      return outcome;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  /** After a fold's commit: its series' newest readings to the latest-value cache (best effort: never throws). */
  private async writeLatest(values: LatestValues | undefined): Promise<void> {
    if (values && this.deps.latest) await this.deps.latest.write(values);
  }

  /** A new aggregate, numbering series by the index kept across folds (a new index once that one is full). */
  private emptyAggregate(): FoldAggregate {
    if (this.series.full) this.series = new SeriesIndex(this.options.seriesCapacity);
    return new FoldAggregate(this.deps.settings, { latest: this.deps.latest !== undefined, series: this.series });
  }

  private counted(outcome: FoldOutcome, source: 'memory' | 'orphan', started: number): void {
    const m = this.deps.metrics;
    m.foldRuns.inc({ source, outcome: 'done' });
    m.foldDuration.observe((performance.now() - started) / 1000);
    if (outcome.rollupRows) m.dbRowsWritten.inc({ table: 'rollups' }, outcome.rollupRows);
    if (outcome.deviceRows) m.dbRowsWritten.inc({ table: 'devices' }, outcome.deviceRows);
    for (const a of outcome.changedAlerts) {
      m.alerts.inc({ rule: a.rule, action: a.state === 'firing' ? 'fire' : 'resolve' });
    }
    if (outcome.changedAlerts.length) m.dbRowsWritten.inc({ table: 'alerts' }, outcome.changedAlerts.length);
  }
}

/**
 * A ledger batch's readings, read back from raw, each with the steps of the task that stored it — but none rolled
 * up of a minute that was not sealed when the batch was stored (its seal counted it).
 */
async function recoveredWork(client: pg.PoolClient, batch: StoredBatch): Promise<FoldWork> {
  const stepsOf = new Map(batch.taskIds.map((id, i) => [id, batch.taskSteps[i]!]));
  const work = emptyWork();
  for (const { reading, taskId } of await readingsOfBatch(client, batch)) {
    work.readings.push(reading);
    work.ms.push(Date.parse(reading.event_time));
    work.steps.push((stepsOf.get(taskId) ?? 0) | FOLD_STEP.devices);
  }
  if (batch.minutesSealedBeforeMs !== undefined) leaveOpenMinutesToSeal(work, batch.minutesSealedBeforeMs);
  return work;
}
