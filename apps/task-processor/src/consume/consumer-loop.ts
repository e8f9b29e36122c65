import type { Logger } from 'pino';
import { briefError, fullJitterBackoff, sleep } from '@telemetryhub/service-kit';
import { type FetchedTask, type QueueConsumer } from '@telemetryhub/queue';
import type { TaskRunner } from './task-runner.js';
import type { ProcessorMetrics } from '../metrics/processor-metrics.js';

export interface ConsumerLoopOptions {
  consumer: Pick<QueueConsumer, 'fetch' | 'requeueInFlight' | 'consumerId' | 'startHeartbeat' | 'stopHeartbeat'>;
  runner: TaskRunner;
  metrics: ProcessorMetrics;
  log: Logger;
  /** Most tasks taken per fetch: bounds the work in flight. */
  batchSize: number;
  /** How long one fetch may block on an empty queue. Also bounds how long stop() waits for an idle fetch. */
  blockMs: number;
}

/**
 * fetch → run → settle, one batch at a time: in-flight work is bounded by `batchSize`, and a slow database
 * slows fetching instead of piling tasks up in memory. A Redis error backs off and retries; nothing here lets
 * an error end the loop.
 */
export class ConsumerLoop {
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly o: ConsumerLoopOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.o.consumer.startHeartbeat((err) => this.o.log.warn({ err: briefError(err) }, 'heartbeat failed'));
    this.loop = this.run();
  }

  get isRunning(): boolean {
    return this.running;
  }

  /**
   * Stops fetching, lets the batch in hand finish (an unavailable dependency is no longer waited for), then gives
   * any unsettled task back to the queue and drops the lease. Idempotent.
   */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    try {
      const returned = await this.o.consumer.requeueInFlight();
      if (returned) this.o.log.info({ tasks: returned }, 'returned unfinished tasks to the queue');
    } catch (err) {
      this.o.log.error({ err }, 'could not return unfinished tasks; the reaper will');
    }
  }

  private async returnUnsettled(): Promise<void> {
    for (let attempt = 0; this.running; attempt++) {
      try {
        await this.o.consumer.requeueInFlight({ keepHeartbeat: true });
        return;
      } catch {
        await sleep(fullJitterBackoff(attempt, 200, 5000));
      }
    }
    // Stopping: stop() gives back whatever is still held.
  }

  private async run(): Promise<void> {
    let failures = 0;
    let settleFailures = 0;
    while (this.running) {
      let fetched: FetchedTask[];
      const startedAt = Date.now();
      try {
        fetched = await this.o.consumer.fetch(this.o.batchSize, this.o.blockMs);
        failures = 0;
      } catch (err) {
        const delay = fullJitterBackoff(failures++, 200, 5000);
        this.o.log.warn({ err: briefError(err), delayMs: delay }, 'fetch failed; retrying');
        await sleep(delay);
        continue;
      }
      if (fetched.length === 0) continue;
      this.o.metrics.fetchBatchSize.observe(fetched.length);
      const end = this.o.metrics.batchDuration.startTimer();
      try {
        await this.o.runner.run(fetched, () => this.running, { startedAt, doneAt: Date.now() });
        settleFailures = 0;
      } catch (err) {
        // Only Redis failing during ack/retry/dead-letter gets here. A live consumer keeps its lease, so the
        // reaper would never return these tasks: give them back ourselves (reprocessing them is idempotent).
        this.o.log.error({ err, tasks: fetched.length }, 'could not settle a batch; returning its tasks to the queue');
        await this.returnUnsettled();
        // Redis refusing writes (at maxmemory, a DLQ record cannot be added) must not become a hot loop.
        await sleep(fullJitterBackoff(settleFailures++, 200, 5000));
      }
      end();
    }
  }
}
