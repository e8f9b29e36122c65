import type pg from 'pg';
import type { Logger } from 'pino';
import { PeriodicTask, briefError } from '@telemetryhub/service-kit';
import type { ProcessorMetrics } from '../metrics/processor-metrics.js';
import type { PartitionEvents, PartitionManager } from './partitions.js';
import { runPartitionUpkeep, type RetentionPolicy, type UpkeepResult } from './retention.js';

/**
 * Runs partition upkeep (create ahead, drop expired) at start and then every interval, until stopped. Counts its
 * runs by outcome; created and dropped partitions are counted by the PartitionManager's events.
 */
export class PartitionUpkeep {
  private readonly periodic: PeriodicTask;

  constructor(
    private readonly deps: {
      pool: pg.Pool;
      partitions: PartitionManager;
      policy: RetentionPolicy;
      intervalMs: number;
      metrics: ProcessorMetrics;
      log: Logger;
    },
  ) {
    this.periodic = new PeriodicTask(() => this.runOnce(), deps.intervalMs);
  }

  /** Runs at once (the next days' partitions before the first batch) and then every interval. */
  start(): void {
    this.periodic.start({ now: true });
  }

  /** One run; never throws (a failure is logged, counted and retried at the next interval). */
  async runOnce(): Promise<UpkeepResult | null> {
    const { metrics, log } = this.deps;
    try {
      const result = await runPartitionUpkeep(this.deps.pool, this.deps.partitions, this.deps.policy);
      if (!result) {
        metrics.retentionRuns.inc({ outcome: 'skipped' });
        return null;
      }
      metrics.retentionRuns.inc({ outcome: 'done' });
      if (result.created.length || result.dropped.length) log.info(result, 'partition upkeep');
      return result;
    } catch (err) {
      metrics.retentionRuns.inc({ outcome: 'failed' });
      log.warn({ err: briefError(err) }, 'partition upkeep failed; will retry at the next interval');
      return null;
    }
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }
}

/** Counts the partitions a PartitionManager creates and drops, by table. */
export function partitionMetrics(metrics: ProcessorMetrics): PartitionEvents {
  return {
    onCreated: (table) => metrics.partitionsCreated.inc({ table }),
    onDropped: (table) => metrics.partitionsDropped.inc({ table }),
  };
}
