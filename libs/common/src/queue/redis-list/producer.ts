import type { Redis } from 'ioredis';
import { queueKeys, type QueueKeys } from '../keys.js';
import type { TaskEnvelope } from '../../schemas/index.js';

/**
 * The producer side of the protocol: `LPUSH <q>:pending <envelope JSON>`. A batch of tasks goes out as one
 * LPUSH with many values (one round trip, atomic); several batches are pipelined by the caller.
 */
export class TaskProducer {
  readonly keys: QueueKeys;
  constructor(
    private readonly redis: Redis,
    queue: string,
  ) {
    this.keys = queueKeys(queue);
  }

  /** Enqueues tasks in order (the first is consumed first). Resolves with the pending depth after the push. */
  async enqueue(tasks: ReadonlyArray<TaskEnvelope | string>): Promise<number> {
    if (tasks.length === 0) return this.redis.llen(this.keys.pending);
    return this.redis.lpush(this.keys.pending, ...tasks.map(serializeTask));
  }

  /** Enqueues several batches in one pipeline (one round trip); rejects if any push failed. */
  async enqueueBatches(batches: ReadonlyArray<ReadonlyArray<TaskEnvelope | string>>): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const batch of batches) if (batch.length) pipeline.lpush(this.keys.pending, ...batch.map(serializeTask));
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
  }

  async pendingDepth(): Promise<number> {
    return this.redis.llen(this.keys.pending);
  }
}

export function serializeTask(task: TaskEnvelope | string): string {
  return typeof task === 'string' ? task : JSON.stringify(task);
}
