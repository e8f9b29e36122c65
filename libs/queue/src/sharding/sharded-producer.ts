import type { RedisClient } from '../redis-connection.js';
import type { QueueProducer } from '../driver.js';
import { RedisListProducer } from '../redis-list/producer.js';
import { type QueuedTask, type QueueProducerOptions } from '../task.js';
import { shardIndex, shardQueueNames, taskRoutingKey } from './shard-routing.js';

/**
 * The producer of a sharded queue: each task goes to the shard of its routing key (its first device), so one
 * device's tasks stay in one shard, in order. Each shard is a plain redis-list queue (`LPUSH {q:i}:pending`);
 * the depth limit applies per shard and lane.
 */
export class ShardedProducer implements QueueProducer {
  readonly shardQueues: string[];
  private readonly producers: RedisListProducer[];

  constructor(
    redis: RedisClient,
    readonly queue: string,
    readonly shards: number,
    private readonly opts: QueueProducerOptions = {},
  ) {
    this.shardQueues = shardQueueNames(queue, shards);
    this.producers = this.shardQueues.map((q) => new RedisListProducer(redis, q, opts));
  }

  get maxDepth(): number | undefined {
    return this.opts.maxDepth;
  }

  /** The shard a task goes to. */
  shardOf(task: QueuedTask): number {
    return shardIndex(taskRoutingKey(task), this.shards);
  }

  /** Enqueues each task on its shard, in the given order within a shard. Resolves with the sum of their depths. */
  async enqueue(tasks: ReadonlyArray<QueuedTask>): Promise<number> {
    const depths = await Promise.all(
      [...this.group(tasks, (t) => this.shardOf(t))].map(([s, ts]) => this.producers[s]!.enqueue(ts)),
    );
    return depths.reduce((a, b) => a + b, 0);
  }

  /**
   * Each batch goes whole to the shard of its first task (so it stays one atomic push); the shards are written
   * concurrently (a cluster pipeline may not span slots), one pipeline each.
   */
  async enqueueBatches(batches: ReadonlyArray<ReadonlyArray<QueuedTask>>): Promise<boolean[]> {
    const flags = new Array<boolean>(batches.length).fill(true);
    const nonEmpty = batches.map((b, i) => ({ b, i })).filter(({ b }) => b.length > 0);
    await Promise.all(
      [...this.group(nonEmpty, ({ b }) => this.shardOf(b[0]!))].map(async ([s, group]) => {
        const ok = await this.producers[s]!.enqueueBatches(group.map(({ b }) => b));
        group.forEach(({ i }, j) => (flags[i] = ok[j]!));
      }),
    );
    return flags;
  }

  async pendingDepth(): Promise<number> {
    const depths = await Promise.all(this.producers.map((p) => p.pendingDepth()));
    return depths.reduce((a, b) => a + b, 0);
  }

  /** Items by shard, each shard's in the given order. */
  private group<T>(items: ReadonlyArray<T>, shardOf: (item: T) => number): Map<number, T[]> {
    const out = new Map<number, T[]>();
    for (const item of items) {
      const s = shardOf(item);
      const list = out.get(s);
      if (list) list.push(item);
      else out.set(s, [item]);
    }
    return out;
  }
}
