import type { Logger } from 'pino';
import { PRIORITY_URGENT_MIN, payloadReadings, type ReadingsPayload, type TaskEnvelope } from '@telemetryhub/schemas';
import { RECORD_HEADER_BYTES, SegmentLog, type SpoolBatch, type SpoolRecord } from '@telemetryhub/spool';
import { type SerializedTask } from '@telemetryhub/queue';
import type { HubMetrics } from '../metrics/hub-metrics.js';

export interface TaskSpoolOptions {
  dir: string;
  /** Capacity in bytes (pending tasks on disk). */
  capacityBytes: number;
  metrics: HubMetrics;
  log: Logger;
  /** Segment file size (default 8 MiB; tests use small ones). */
  segmentBytes?: number;
}

/** Above this share of capacity the spool warns (once per crossing). */
export const SPOOL_WARN_RATIO = 0.7;
/** Normal-priority tasks stop being spooled here; the rest of the room is kept for urgent ones. */
export const SPOOL_NORMAL_LIMIT_RATIO = 0.9;

/** A batch read back from the spool: the tasks to push, and the handle that marks them delivered. */
export interface SpooledTasks {
  tasks: SerializedTask[];
  /** Readings in each task. */
  readings: number[];
  batch: SpoolBatch;
}

/**
 * The hub's store-and-forward spool: task envelopes on disk (a SegmentLog) while Redis cannot take them, with
 * the capacity policy — warn at 70 %, delivered data leaves the disk as it is replayed, and past 90 % only urgent
 * tasks are kept (normal ones are dropped, counted and logged) until the spool is full.
 */
export class TaskSpool {
  private warned = false;
  private lastDropLog = 0;
  /** Quarantined records already counted in the metric. */
  private quarantineCounted = 0;

  private constructor(
    private readonly segments: SegmentLog,
    private readonly o: TaskSpoolOptions,
  ) {
    o.metrics.spoolCapacity.set(o.capacityBytes);
    this.countQuarantine('spool: cut a torn last record (crash mid-write)');
    this.updateGauges();
  }

  static async open(o: TaskSpoolOptions): Promise<TaskSpool> {
    const { log: segments } = await SegmentLog.open({
      dir: o.dir,
      ...(o.segmentBytes ? { segmentBytes: o.segmentBytes } : {}),
    });
    if (segments.pendingRecords > 0) {
      o.log.info(
        { dir: o.dir, tasks: segments.pendingRecords, bytes: segments.pendingBytes },
        'spool holds tasks from before the restart; they go out first',
      );
    }
    return new TaskSpool(segments, o);
  }

  get isEmpty(): boolean {
    return this.segments.isEmpty;
  }

  get pendingTasks(): number {
    return this.segments.pendingRecords;
  }

  /**
   * Writes tasks durably (one write and one fdatasync for the lot), oldest first; what the capacity policy refuses
   * is dropped and counted. Resolves with one flag per task: true = on disk, false = dropped.
   */
  async store(tasks: ReadonlyArray<TaskEnvelope & { payload: ReadingsPayload }>): Promise<boolean[]> {
    const keep: SpoolRecord[] = [];
    const kept: boolean[] = [];
    let bytes = this.segments.pendingBytes;
    let droppedReadings = 0;
    for (const task of tasks) {
      const payload = Buffer.from(JSON.stringify(task));
      const limit = this.o.capacityBytes * (task.priority >= PRIORITY_URGENT_MIN ? 1 : SPOOL_NORMAL_LIMIT_RATIO);
      const recordBytes = RECORD_HEADER_BYTES + payload.length;
      kept.push(bytes + recordBytes <= limit);
      if (!kept.at(-1)) {
        droppedReadings += payloadReadings(task.payload);
        continue;
      }
      bytes += recordBytes;
      keep.push({ priority: task.priority, weight: payloadReadings(task.payload), payload });
    }
    await this.segments.append(keep);
    this.o.metrics.spoolWrittenTasks.inc(keep.length);
    if (droppedReadings > 0) this.dropped(droppedReadings);
    this.updateGauges();
    return kept;
  }

  /** The oldest tasks, without removing them: call `delivered` once Redis has them. */
  async next(maxTasks: number): Promise<SpooledTasks> {
    const batch = await this.segments.read(maxTasks);
    this.countQuarantine('spool: damaged records quarantined and skipped');
    const tasks = batch.records.map((r) => ({ json: r.payload.toString('utf8'), priority: r.priority }));
    return { tasks, readings: batch.records.map((r) => r.weight ?? 0), batch };
  }

  /** Marks the first `count` tasks of what `next` returned as delivered. */
  async delivered(spooled: SpooledTasks, count = spooled.tasks.length): Promise<void> {
    await this.segments.commit(spooled.batch, count);
    this.o.metrics.spoolReplayedTasks.inc(count);
    this.updateGauges();
  }

  close(): Promise<void> {
    return this.segments.close();
  }

  /** Counts (and logs) records the log quarantined since the last call. */
  private countQuarantine(message: string): void {
    const damaged = this.segments.quarantinedRecords - this.quarantineCounted;
    if (damaged <= 0) return;
    this.quarantineCounted += damaged;
    this.o.metrics.spoolQuarantined.inc(damaged);
    this.o.log.error({ dir: this.o.dir, records: damaged }, message);
  }

  private dropped(readings: number): void {
    this.o.metrics.spoolDropped.inc({ reason: 'full' }, readings);
    const now = Date.now();
    if (now - this.lastDropLog < 10_000) return;
    this.lastDropLog = now;
    this.o.log.error(
      { dir: this.o.dir, readings, capacityBytes: this.o.capacityBytes },
      'spool full: dropping normal-priority readings (see telemetryhub_hub_spool_dropped_readings_total)',
    );
  }

  private updateGauges(): void {
    const bytes = this.segments.pendingBytes;
    this.o.metrics.spoolBytes.set(bytes);
    this.o.metrics.spoolRecords.set(this.segments.pendingRecords);
    this.o.metrics.circuitOpen.set(this.segments.isEmpty ? 0 : 1);
    const high = bytes >= this.o.capacityBytes * SPOOL_WARN_RATIO;
    if (high && !this.warned) {
      this.o.log.warn({ dir: this.o.dir, bytes, capacityBytes: this.o.capacityBytes }, 'spool over 70 % full');
    } else if (!high && this.warned) {
      this.o.log.info({ dir: this.o.dir, bytes }, 'spool back under 70 %');
    }
    this.warned = high;
  }
}
