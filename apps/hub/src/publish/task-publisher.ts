import { randomUUID } from 'node:crypto';
import type { Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { briefError } from '@telemetryhub/service-kit';
import {
  PRIORITY_DEFAULT,
  payloadReadings,
  toColumns,
  type ColumnsPayload,
  type Reading,
  type TaskEnvelope,
} from '@telemetryhub/schemas';
import { QueueFullError, type QueuedTask, type QueueProducer, shardIndex } from '@telemetryhub/queue';
import type { ReadingBuffer } from '../buffer/reading-buffer.js';
import { failAll, settleAll, type AckTicket } from '../buffer/ack-ticket.js';
import type { HubMetrics } from '../metrics/hub-metrics.js';
import type { TaskSpool } from '../spool/task-spool.js';
import type { TraceOrigin } from '../buffer/trace-origin.js';
import { endPublishSpan, startPublishSpan } from './publish-trace.js';

export interface TaskPublisherOptions {
  buffer: ReadingBuffer;
  producer: Pick<QueueProducer, 'enqueueBatches' | 'queue' | 'maxDepth' | 'shards'>;
  metrics: HubMetrics;
  log: Logger;
  taskType: string;
  /**
   * How a task carries its readings: in columns (the default: about 95 bytes a reading against 245 in rows, less to
   * serialise, push, hold in Redis and parse) or as reading objects, which processors older than columns read.
   */
  payloadFormat?: 'columns' | 'readings';
  /** Readings per task. */
  batchMaxReadings: number;
  /** How long the first reading of a batch may wait for the batch to fill. */
  lingerMs: number;
  /** Tasks sent in one pipelined round trip. */
  maxTasksPerFlush?: number;
  /** Backoff after a failed publish: doubles from min to max. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /**
   * Durable spool: when a publish fails, batches go to disk instead of waiting in memory, and are replayed oldest
   * first once Redis takes tasks again (live traffic waits behind them, so order holds). Without it, the batch
   * in hand is held in memory and retried, and the ring buffer absorbs the rest.
   */
  spool?: TaskSpool;
  /** Tasks replayed from the spool per round trip. Default 64. */
  replayBatchTasks?: number;
}

type HeldTask = TaskEnvelope & { payload: { readings: Reading[] } | ColumnsPayload };

/**
 * Drains the buffer into tasks and LPUSHes them, several per round trip. A failed publish opens the circuit:
 * with a spool, everything goes to disk and is replayed oldest first while probes find Redis back (then the
 * circuit closes); without one, the batch in hand is held and retried with backoff, and a Redis outage costs
 * nothing until the ring buffer itself overflows (counted). Memory stays bounded: the buffer plus one flush.
 */
export class TaskPublisher {
  private readonly maxTasksPerFlush: number;
  /** Tasks taken from the buffer and not yet confirmed; built once, so a retry resends the same task ids. */
  private held: HeldTask[] = [];
  /** The ack ticket of each reading of a held task (absent: nobody waits on any of them). */
  private readonly ticketsOf = new WeakMap<HeldTask, Array<AckTicket | undefined>>();
  /** The publish span of a held task (traced hubs only), ended once the task is durable or lost. */
  private readonly spanOf = new WeakMap<HeldTask, Span>();
  private running = false;
  private loop: Promise<void> | undefined;
  /** Set while waiting: re-checks the wait's condition after each add to the buffer. */
  private onData: (() => void) | undefined;
  /** Set while waiting: ends the wait at once (stop()). */
  private abortWait: (() => void) | undefined;
  private stopDeadline = Infinity;
  /** The wait after a failed publish or replay: doubles from retryMin to retryMax, reset by a success. */
  private failureDelay: number;
  /** With the spool in use: when the next replay attempt is due (0 = now). */
  private nextProbeAt = 0;

  constructor(private readonly o: TaskPublisherOptions) {
    this.maxTasksPerFlush = o.maxTasksPerFlush ?? 16;
    this.failureDelay = this.retryMin;
    o.buffer.onAdd(() => this.onData?.());
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run().catch((err) => this.o.log.fatal({ err }, 'publisher loop crashed'));
  }

  /** Readings taken from the buffer and not yet confirmed by Redis. */
  get heldReadings(): number {
    return this.held.reduce((n, t) => n + payloadReadings(t.payload), 0);
  }

  /**
   * Stops after publishing what the buffer holds, or at the deadline, whichever comes first. Returns the number
   * of readings left unpublished (logged); with a spool, what Redis did not take is on disk, not counted here.
   */
  async stop(timeoutMs: number): Promise<number> {
    this.stopDeadline = Date.now() + timeoutMs;
    this.running = false;
    this.abortWait?.();
    await this.loop;
    const left = this.heldReadings + this.o.buffer.size;
    if (left) this.o.log.error({ readings: left }, 'stopped with readings not yet published');
    // Nobody waiting on them may be told they are stored.
    for (const t of this.held) {
      failAll(this.ticketsOf.get(t) ?? [], 'shutdown');
      endPublishSpan(this.spanOf.get(t), { lost: 'the hub stopped before Redis took the task' });
    }
    if (this.o.buffer.size) failAll(this.o.buffer.take(this.o.buffer.size).tickets, 'shutdown');
    if (this.o.spool && !this.o.spool.isEmpty) {
      this.o.log.warn(
        { tasks: this.o.spool.pendingTasks },
        'stopped with tasks in the spool; they go out after restart',
      );
    }
    return left;
  }

  private get retryMin(): number {
    return this.o.retryMinMs ?? 100;
  }

  private get retryMax(): number {
    return this.o.retryMaxMs ?? 5000;
  }

  /** Returns the delay to wait after this failure, and doubles the next one. */
  private nextFailureDelay(): number {
    const delay = this.failureDelay;
    this.failureDelay = Math.min(delay * 2, this.retryMax);
    return delay;
  }

  private async run(): Promise<void> {
    for (;;) {
      // The circuit is open exactly while the spool holds tasks: everything then goes through it, in order.
      if (this.o.spool && !this.o.spool.isEmpty) {
        if (!(await this.spoolStep(this.o.spool))) return;
        continue;
      }
      if (this.held.length === 0) {
        if (!this.running && this.o.buffer.size === 0) return;
        if (this.running) await this.waitForBatch();
        this.fillHeld();
        if (this.held.length === 0) continue;
      }
      try {
        await this.flush();
        this.failureDelay = this.retryMin;
      } catch (err) {
        this.o.metrics.publishErrors.inc();
        if (this.o.spool && (await this.spoolInMemory(this.o.spool))) {
          this.o.log.warn({ err: briefError(err) }, 'publish failed; spooling to disk until Redis takes tasks again');
          this.probeFailed();
          continue;
        }
        this.o.log.warn({ err: briefError(err), readings: this.heldReadings }, 'publish failed; will retry');
        const delay = this.nextFailureDelay();
        if (!this.running && Date.now() + delay > this.stopDeadline) return;
        await this.sleep(delay);
      }
    }
  }

  /**
   * One step with the circuit open: move what is in memory to the spool, and replay the oldest spooled tasks
   * when a probe is due. Returns false when stopping and nothing more can be done before the deadline.
   */
  private async spoolStep(spool: TaskSpool): Promise<boolean> {
    const untilProbe = () => Math.max(0, this.nextProbeAt - Date.now());
    if (this.running && untilProbe() > 0) {
      await this.waitFor(() => this.o.buffer.size > 0, untilProbe());
      await this.waitFor(() => this.o.buffer.size >= this.o.batchMaxReadings, Math.min(this.o.lingerMs, untilProbe()));
    }
    if (!(await this.spoolInMemory(spool))) await this.sleep(this.retryMin); // disk trouble: logged, retried
    if (untilProbe() === 0) {
      try {
        await this.replay(spool);
        this.failureDelay = this.retryMin;
        this.nextProbeAt = 0;
      } catch (err) {
        this.o.metrics.publishErrors.inc();
        this.o.log.debug({ err: briefError(err) }, 'spool replay failed; will probe again');
        this.probeFailed();
      }
    }
    if (this.running || spool.isEmpty) return true;
    // Stopping: what is spooled is safe on disk, so stop at the first failed replay or at the deadline.
    return this.nextProbeAt === 0 && Date.now() < this.stopDeadline;
  }

  private probeFailed(): void {
    this.nextProbeAt = Date.now() + this.nextFailureDelay();
  }

  /** Writes the batch in hand and everything buffered to the spool, oldest first. False if the disk failed. */
  private async spoolInMemory(spool: TaskSpool): Promise<boolean> {
    if (this.held.length === 0) {
      while (this.o.buffer.size > 0) this.held.push(...this.takeTasks());
    }
    if (this.held.length === 0) return true;
    let kept: boolean[];
    try {
      kept = await spool.store(this.held);
    } catch (err) {
      this.o.log.error({ err: briefError(err), readings: this.heldReadings }, 'cannot write the spool; holding');
      return false;
    }
    // On disk (fdatasync'd) is durable; a task the full spool dropped is lost, and its producers are told.
    this.held.forEach((t, i) => {
      const tickets = this.ticketsOf.get(t) ?? [];
      if (kept[i]) settleAll(tickets);
      else failAll(tickets, 'spool_full');
      endPublishSpan(this.spanOf.get(t), kept[i] ? 'spooled' : { lost: 'the spool is full' });
    });
    this.held = [];
    this.o.metrics.heldReadings.set(0);
    return true;
  }

  /** Pushes the oldest spooled tasks; marks delivered what Redis took (a prefix), throws if it refused any. */
  private async replay(spool: TaskSpool): Promise<void> {
    const spooled = await spool.next(this.o.replayBatchTasks ?? 64);
    const pushed = spooled.tasks.length ? await this.push(spooled.tasks) : [];
    let n = 0;
    while (n < pushed.length && pushed[n]) n += 1;
    await spool.delivered(spooled, n);
    this.countPublished(
      n,
      spooled.readings.slice(0, n).reduce((a, b) => a + b, 0),
    );
    if (n < spooled.tasks.length) throw new QueueFullError(this.o.producer.queue, this.o.producer.maxDepth);
  }

  /**
   * Waits until a full batch is buffered, or until the oldest buffered reading has lingered long enough, or until
   * a producer that cannot send more before its ack (one MQTT message at a time) waits on what is buffered.
   */
  private async waitForBatch(): Promise<void> {
    const { buffer, batchMaxReadings, lingerMs } = this.o;
    await this.waitFor(() => buffer.size > 0, Infinity);
    if (lingerMs > 0) await this.waitFor(() => buffer.size >= batchMaxReadings || buffer.hasEagerWaiter, lingerMs);
  }

  /** Resolves when `done()` holds after an add, when `ms` pass, or when stop() is called. */
  private waitFor(done: () => boolean, ms: number): Promise<void> {
    if (!this.running || done()) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.onData = undefined;
        this.abortWait = undefined;
        resolve();
      };
      const timer = Number.isFinite(ms) ? setTimeout(finish, ms) : undefined;
      this.onData = () => {
        if (done()) finish();
      };
      this.abortWait = finish;
    });
  }

  /**
   * A backoff sleep: new data does not end it, a stop() call during it does. It sleeps even after stop(): a
   * retry loop that never yields would starve the reconnect it is waiting for.
   */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.abortWait = undefined;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.abortWait = finish;
    });
  }

  private fillHeld(): void {
    while (this.held.length < this.maxTasksPerFlush && this.o.buffer.size > 0) this.held.push(...this.takeTasks());
    this.o.metrics.heldReadings.set(this.heldReadings);
  }

  private async flush(): Promise<void> {
    const pushed = await this.push(this.held);
    const sent = this.held.filter((_, i) => pushed[i]);
    for (const t of sent) {
      const tickets = this.ticketsOf.get(t);
      if (tickets) settleAll(tickets);
      endPublishSpan(this.spanOf.get(t), 'published');
    }
    this.countPublished(
      sent.length,
      sent.reduce((n, t) => n + payloadReadings(t.payload), 0),
    );
    this.held = this.held.filter((_, i) => !pushed[i]);
    this.o.metrics.heldReadings.set(this.heldReadings);
    if (this.held.length) throw new QueueFullError(this.o.producer.queue, this.o.producer.maxDepth);
  }

  /** One pipelined round trip, each task its own batch (so the depth limit refuses tasks, not the lot); timed. */
  private async push(tasks: ReadonlyArray<QueuedTask>): Promise<boolean[]> {
    const end = this.o.metrics.publishDuration.startTimer();
    try {
      return await this.o.producer.enqueueBatches(tasks.map((t) => [t]));
    } finally {
      end();
    }
  }

  private countPublished(tasks: number, readings: number): void {
    this.o.metrics.publishedTasks.inc(tasks);
    this.o.metrics.publishedReadings.inc(readings);
  }

  /**
   * The next tasks from the buffer: one of up to batchMaxReadings readings; on a sharded queue, up to that many
   * per shard, each task holding one shard's devices only (so the producer's routing by the first reading keeps
   * every device on its shard, in order).
   */
  private takeTasks(): HeldTask[] {
    const shards = this.o.producer.shards ?? 1;
    const { readings, tickets, origins } = this.o.buffer.take(this.o.batchMaxReadings * shards);
    if (shards === 1) return [this.envelope(readings, tickets, origins)];
    const byShard = new Map<
      number,
      { readings: Reading[]; tickets: Array<AckTicket | undefined>; origins: Array<TraceOrigin | undefined> }
    >();
    readings.forEach((r, i) => {
      const s = shardIndex(r.device_id, shards);
      const list = byShard.get(s) ?? { readings: [], tickets: [], origins: [] };
      if (list.readings.length === 0) byShard.set(s, list);
      list.readings.push(r);
      list.tickets.push(tickets[i]);
      if (origins) list.origins.push(origins[i]);
    });
    const tasks: HeldTask[] = [];
    for (const list of byShard.values()) {
      for (let i = 0; i < list.readings.length; i += this.o.batchMaxReadings) {
        const end = i + this.o.batchMaxReadings;
        const taskOrigins = origins ? list.origins.slice(i, end) : undefined;
        tasks.push(this.envelope(list.readings.slice(i, end), list.tickets.slice(i, end), taskOrigins));
      }
    }
    return tasks;
  }

  private envelope(
    readings: Reading[],
    tickets: Array<AckTicket | undefined>,
    origins?: Array<TraceOrigin | undefined>,
  ): HeldTask {
    const task: HeldTask = {
      id: randomUUID(),
      type: this.o.taskType,
      priority: PRIORITY_DEFAULT,
      created_at: new Date().toISOString(),
      attempts: 0,
      payload: this.o.payloadFormat === 'readings' ? { readings } : toColumns(readings),
    };
    if (tickets.some((t) => t !== undefined)) this.ticketsOf.set(task, tickets);
    if (origins) {
      const { span, carrier } = startPublishSpan(origins, this.o.producer.queue, readings.length);
      Object.assign(task, carrier);
      this.spanOf.set(task, span);
    }
    return task;
  }
}
