import type { Redis } from 'ioredis';
import { queueKeys, type QueueKeys } from '../keys.js';
import { ENQUEUE_BOUNDED } from '../lua/scripts.js';
import { QueueFullError } from '../errors.js';
import type { TaskEnvelope } from '../../schemas/index.js';

export interface TaskProducerOptions {
  /** Refuse (QueueFullError) instead of pushing past this many pending tasks. Default: no limit. */
  maxDepth?: number;
}

/**
 * The producer side of the protocol: `LPUSH <q>:pending <envelope JSON>`. A batch of tasks goes out as one
 * command (one round trip, atomic); several batches are pipelined. With `maxDepth`, the push and the depth check
 * are one Lua script, so a full queue refuses the whole batch rather than half of it.
 */
export class TaskProducer {
  readonly keys: QueueKeys;
  constructor(
    private readonly redis: Redis,
    readonly queue: string,
    private readonly opts: TaskProducerOptions = {},
  ) {
    this.keys = queueKeys(queue);
  }

  /** Enqueues tasks in order (the first is consumed first). Resolves with the pending depth after the push. */
  async enqueue(tasks: ReadonlyArray<TaskEnvelope | string>): Promise<number> {
    if (tasks.length === 0) return this.redis.llen(this.keys.pending);
    const values = tasks.map(serializeTask);
    if (this.opts.maxDepth === undefined) return this.redis.lpush(this.keys.pending, ...values);
    const depth = (await this.redis.eval(
      ENQUEUE_BOUNDED,
      1,
      this.keys.pending,
      this.opts.maxDepth,
      ...values,
    )) as number;
    if (depth < 0) throw new QueueFullError(this.queue, this.opts.maxDepth);
    return depth;
  }

  /**
   * Enqueues several batches in one pipeline (one round trip). Resolves with one flag per batch: true = pushed,
   * false = refused by the depth limit (retry it later). Rejects on a Redis error; some batches may then have
   * gone in, so a retry can duplicate tasks — harmless downstream, where readings dedup by event_id.
   */
  async enqueueBatches(batches: ReadonlyArray<ReadonlyArray<TaskEnvelope | string>>): Promise<boolean[]> {
    const pipeline = this.redis.pipeline();
    for (const batch of batches) {
      const values = batch.map(serializeTask);
      if (values.length === 0) pipeline.llen(this.keys.pending);
      else if (this.opts.maxDepth === undefined) pipeline.lpush(this.keys.pending, ...values);
      else pipeline.eval(ENQUEUE_BOUNDED, 1, this.keys.pending, this.opts.maxDepth, ...values);
    }
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
    return results.map(([, depth]) => (depth as number) >= 0);
  }

  get maxDepth(): number | undefined {
    return this.opts.maxDepth;
  }

  async pendingDepth(): Promise<number> {
    return this.redis.llen(this.keys.pending);
  }
}

export function serializeTask(task: TaskEnvelope | string): string {
  return typeof task === 'string' ? task : JSON.stringify(task);
}
