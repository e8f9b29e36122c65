import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  PRIORITY_DEFAULT,
  QueueFullError,
  type Reading,
  type TaskEnvelope,
  type TaskProducer,
  briefError,
} from '@telemetryhub/common';
import type { ReadingBuffer } from '../buffer/reading-buffer.js';
import type { HubMetrics } from '../metrics.js';

export interface TaskPublisherOptions {
  buffer: ReadingBuffer;
  producer: Pick<TaskProducer, 'enqueueBatches' | 'queue' | 'maxDepth'>;
  metrics: HubMetrics;
  log: Logger;
  taskType: string;
  /** Readings per task. */
  batchMaxReadings: number;
  /** How long the first reading of a batch may wait for the batch to fill. */
  lingerMs: number;
  /** Tasks sent in one pipelined round trip. */
  maxTasksPerFlush?: number;
  /** Backoff after a failed publish: doubles from min to max. */
  retryMinMs?: number;
  retryMaxMs?: number;
}

/**
 * Drains the buffer into tasks and LPUSHes them, several per round trip. A batch taken from the buffer is held
 * until Redis confirms it and retried with backoff meanwhile: a Redis outage costs nothing until the ring buffer
 * itself overflows (counted). Memory stays bounded: the buffer plus one flush in hand.
 */
export class TaskPublisher {
  private readonly maxTasksPerFlush: number;
  /** Tasks taken from the buffer and not yet confirmed; built once, so a retry resends the same task ids. */
  private held: Array<TaskEnvelope & { payload: { readings: Reading[] } }> = [];
  private running = false;
  private loop: Promise<void> | undefined;
  /** Set while waiting: re-checks the wait's condition after each add to the buffer. */
  private onData: (() => void) | undefined;
  /** Set while waiting: ends the wait at once (stop()). */
  private abortWait: (() => void) | undefined;
  private stopDeadline = Infinity;

  constructor(private readonly o: TaskPublisherOptions) {
    this.maxTasksPerFlush = o.maxTasksPerFlush ?? 16;
    o.buffer.onAdd(() => this.onData?.());
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run().catch((err) => this.o.log.fatal({ err }, 'publisher loop crashed'));
  }

  /** Readings taken from the buffer and not yet confirmed by Redis. */
  get heldReadings(): number {
    return this.held.reduce((n, t) => n + t.payload.readings.length, 0);
  }

  /**
   * Stops after publishing what the buffer holds, or at the deadline, whichever comes first. Returns the number
   * of readings left unpublished (logged; a durable spool would keep them).
   */
  async stop(timeoutMs: number): Promise<number> {
    this.stopDeadline = Date.now() + timeoutMs;
    this.running = false;
    this.abortWait?.();
    await this.loop;
    const left = this.heldReadings + this.o.buffer.size;
    if (left) this.o.log.error({ readings: left }, 'stopped with readings not yet published');
    return left;
  }

  private async run(): Promise<void> {
    let backoff = this.o.retryMinMs ?? 100;
    for (;;) {
      if (this.held.length === 0) {
        if (!this.running && this.o.buffer.size === 0) return;
        if (this.running) await this.waitForBatch();
        this.fillHeld();
        if (this.held.length === 0) continue;
      }
      try {
        await this.flush();
        backoff = this.o.retryMinMs ?? 100;
      } catch (err) {
        this.o.metrics.publishErrors.inc();
        this.o.log.warn({ err: briefError(err), readings: this.heldReadings }, 'publish failed; will retry');
        if (!this.running && Date.now() + backoff > this.stopDeadline) return;
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.o.retryMaxMs ?? 5000);
      }
    }
  }

  /** Waits until a full batch is buffered, or until the oldest buffered reading has lingered long enough. */
  private async waitForBatch(): Promise<void> {
    const { buffer, batchMaxReadings, lingerMs } = this.o;
    await this.waitFor(() => buffer.size > 0, Infinity);
    if (lingerMs > 0) await this.waitFor(() => buffer.size >= batchMaxReadings, lingerMs);
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
    while (this.held.length < this.maxTasksPerFlush && this.o.buffer.size > 0) {
      this.held.push(this.envelope(this.o.buffer.take(this.o.batchMaxReadings)));
    }
    this.o.metrics.heldSamples.set(this.heldReadings);
  }

  private async flush(): Promise<void> {
    const end = this.o.metrics.publishDuration.startTimer();
    const pushed = await this.o.producer.enqueueBatches(this.held.map((task) => [task]));
    end();
    const sent = this.held.filter((_, i) => pushed[i]);
    this.o.metrics.publishedTasks.inc(sent.length);
    this.o.metrics.publishedSamples.inc(sent.reduce((n, t) => n + t.payload.readings.length, 0));
    this.held = this.held.filter((_, i) => !pushed[i]);
    this.o.metrics.heldSamples.set(this.heldReadings);
    if (this.held.length) throw new QueueFullError(this.o.producer.queue, this.o.producer.maxDepth);
  }

  private envelope(readings: Reading[]): TaskEnvelope & { payload: { readings: Reading[] } } {
    return {
      id: randomUUID(),
      type: this.o.taskType,
      priority: PRIORITY_DEFAULT,
      created_at: new Date().toISOString(),
      attempts: 0,
      payload: { readings },
    };
  }
}
