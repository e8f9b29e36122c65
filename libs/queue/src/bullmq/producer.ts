import { Queue } from 'bullmq';
import type { RedisClient } from '../redis-connection.js';
import { QueueFullError } from '../errors.js';
import type { QueueProducer } from '../driver.js';
import { serializeTask, type QueuedTask, type QueueProducerOptions } from '../task.js';
import { PRIORITY_URGENT_MIN } from '@telemetryhub/schemas';
import { BULLMQ_JOB_NAME, jobOptions, type BullmqTaskData } from './job-options.js';

/**
 * The producer side of the `bullmq` driver: each task becomes a BullMQ job holding the task's bytes, added with
 * `Queue.addBulk` (one round trip per batch). The depth limit is checked before adding, so it is a soft limit:
 * producers adding at the same moment can overshoot it by a batch each (the `redis-list` driver's check and
 * push are one script).
 */
export class BullmqProducer implements QueueProducer {
  private readonly bull: Queue<BullmqTaskData>;

  constructor(
    connection: RedisClient,
    readonly queue: string,
    private readonly opts: QueueProducerOptions = {},
  ) {
    this.bull = new Queue<BullmqTaskData>(queue, { connection });
  }

  get maxDepth(): number | undefined {
    return this.opts.maxDepth;
  }

  async enqueue(tasks: ReadonlyArray<QueuedTask>): Promise<number> {
    const depth = await this.checkDepth();
    await this.bull.addBulk(tasks.map((t) => this.job(t)));
    return depth + tasks.length;
  }

  async enqueueBatches(batches: ReadonlyArray<ReadonlyArray<QueuedTask>>): Promise<boolean[]> {
    const out: boolean[] = [];
    for (const batch of batches) {
      try {
        await this.enqueue(batch);
        out.push(true);
      } catch (err) {
        if (!(err instanceof QueueFullError)) throw err;
        out.push(false);
      }
    }
    return out;
  }

  async pendingDepth(): Promise<number> {
    return this.bull.getJobCountByTypes('wait', 'prioritized');
  }

  close(): Promise<void> {
    return this.bull.close();
  }

  private async checkDepth(): Promise<number> {
    if (this.opts.maxDepth === undefined) return 0;
    const depth = await this.pendingDepth();
    if (depth >= this.opts.maxDepth) throw new QueueFullError(this.queue, this.opts.maxDepth);
    return depth;
  }

  private job(t: QueuedTask) {
    const threshold = this.opts.urgentPriority ?? PRIORITY_URGENT_MIN;
    const urgent = typeof t !== 'string' && t.priority >= threshold;
    return { name: BULLMQ_JOB_NAME, data: { raw: serializeTask(t) }, opts: jobOptions(urgent) };
  }
}
