import type { RedisClient } from '../redis-connection.js';
import { DeadLetterQueue, type DeadLetterEntry, type DeadLetterFilter } from '../redis-list/dead-letter-queue.js';

/** What an operator does with dead letters, sharded or not (the CLI's `dlq` commands). */
export type DeadLetterAdmin = Pick<DeadLetterQueue, 'count' | 'list' | 'get' | 'replayAt' | 'replay' | 'purge'>;

/**
 * The dead letters of a sharded queue: each shard keeps its own (`{q:i}:failed`, moved there atomically from
 * the shard's processing list), shown as one list — shard 0's entries, then shard 1's, and so on, each newest
 * first — with indexes counted across them. A replay puts a task back on the shard it failed in.
 */
export class ShardedDeadLetterQueue implements DeadLetterAdmin {
  private readonly shards: DeadLetterQueue[];

  constructor(redis: RedisClient, queues: readonly string[]) {
    this.shards = queues.map((q) => new DeadLetterQueue(redis, q));
  }

  async count(): Promise<number> {
    return (await this.counts()).reduce((a, b) => a + b, 0);
  }

  async list(opts: { filter?: DeadLetterFilter; offset?: number; limit?: number } = {}): Promise<DeadLetterEntry[]> {
    const offset = opts.offset ?? 0;
    const limit = opts.limit ?? 50;
    const out: DeadLetterEntry[] = [];
    let skipped = 0;
    let base = 0;
    for (const [s, n] of (await this.counts()).entries()) {
      const matches = await this.shards[s]!.list({ ...(opts.filter ? { filter: opts.filter } : {}), limit: n });
      for (const e of matches) {
        if (skipped++ < offset) continue;
        out.push({ ...e, index: base + e.index });
        if (out.length >= limit) return out;
      }
      base += n;
    }
    return out;
  }

  async get(index: number): Promise<DeadLetterEntry | null> {
    const at = await this.locate(index);
    if (!at) return null;
    const e = await this.shards[at.shard]!.get(at.local);
    return e && { ...e, index };
  }

  async replayAt(index: number): Promise<boolean> {
    const at = await this.locate(index);
    return at ? this.shards[at.shard]!.replayAt(at.local) : false;
  }

  async replay(filter: DeadLetterFilter = {}): Promise<number> {
    return this.sum((d) => d.replay(filter));
  }

  async purge(filter: DeadLetterFilter = {}): Promise<number> {
    return this.sum((d) => d.purge(filter));
  }

  private counts(): Promise<number[]> {
    return Promise.all(this.shards.map((d) => d.count()));
  }

  /** The shard holding the entry at a global index, and its index there. */
  private async locate(index: number): Promise<{ shard: number; local: number } | null> {
    let local = index;
    for (const [shard, n] of (await this.counts()).entries()) {
      if (local < n) return { shard, local };
      local -= n;
    }
    return null;
  }

  private async sum(op: (d: DeadLetterQueue) => Promise<number>): Promise<number> {
    let n = 0;
    for (const d of this.shards) n += await op(d);
    return n;
  }
}
