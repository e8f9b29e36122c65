import type { RedisClient } from '../redis-connection.js';
import { queueKeys, type QueueKeys } from '../keys.js';
import { REPLAY_DEAD } from '../lua/scripts.js';
import { runScript } from '../lua/run-script.js';
import type { DeadLetterRecord } from '../task.js';
import type { QueueProducer } from '../driver.js';

/** One DLQ entry: its position (0 = newest), the bytes as stored, and the record (null if unreadable). */
export interface DeadLetterEntry {
  index: number;
  entry: string;
  record: DeadLetterRecord | null;
}

/** Which entries an operation applies to; empty matches every entry. */
export interface DeadLetterFilter {
  reason?: string;
  type?: string;
  taskId?: string;
}

const PAGE = 500;

/**
 * Admin of a queue's dead letters (`<q>:failed`): list, inspect, replay and purge, by position, by filter, or
 * all. Replay puts the task's original bytes back on pending as a fresh task (its attempt count starts again);
 * each replay and purge is atomic per entry, so two admins at once never replay an entry twice.
 */
export class DeadLetterQueue {
  readonly keys: QueueKeys;
  /**
   * `replayTo`: the producer of a queue carried by another driver (BullMQ). Without it, a replay is one script
   * moving the entry back onto `<q>:pending`; with it, the entry is removed, then enqueued, and put back if the
   * enqueue fails.
   */
  constructor(
    private readonly redis: RedisClient,
    readonly queue: string,
    private readonly replayTo?: QueueProducer,
  ) {
    this.keys = queueKeys(queue);
  }

  count(): Promise<number> {
    return this.redis.llen(this.keys.failed);
  }

  /** Entries newest first, filtered, from `offset` (counted among matches), at most `limit`. */
  async list(opts: { filter?: DeadLetterFilter; offset?: number; limit?: number } = {}): Promise<DeadLetterEntry[]> {
    const offset = opts.offset ?? 0;
    const limit = opts.limit ?? 50;
    const out: DeadLetterEntry[] = [];
    let seen = 0;
    for await (const e of this.scan()) {
      if (!matches(e, opts.filter)) continue;
      if (seen++ < offset) continue;
      out.push(e);
      if (out.length >= limit) break;
    }
    return out;
  }

  async get(index: number): Promise<DeadLetterEntry | null> {
    const entry = await this.redis.lindex(this.keys.failed, index);
    return entry === null ? null : { index, entry, record: parse(entry) };
  }

  /** Replays the entry at `index`. Returns false if there is none (or it was taken meanwhile). */
  async replayAt(index: number): Promise<boolean> {
    const e = await this.get(index);
    return e ? this.replayEntry(e) : false;
  }

  /** Replays every matching entry (oldest first, so the queue keeps their order). Returns how many. */
  async replay(filter: DeadLetterFilter = {}): Promise<number> {
    const matched = await this.collect(filter);
    let n = 0;
    for (const e of matched.reverse()) if (await this.replayEntry(e)) n++;
    return n;
  }

  /** Deletes every matching entry (all of them with an empty filter). Returns how many. */
  async purge(filter: DeadLetterFilter = {}): Promise<number> {
    if (!filter.reason && !filter.type && !filter.taskId) {
      const [[, n]] = (await this.redis.multi().llen(this.keys.failed).del(this.keys.failed).exec()) as [
        [null, number],
      ];
      return n;
    }
    let n = 0;
    for (const e of await this.collect(filter)) n += await this.redis.lrem(this.keys.failed, 1, e.entry);
    return n;
  }

  private async replayEntry(e: DeadLetterEntry): Promise<boolean> {
    // An unreadable entry is replayed as the bytes it holds: they are the best copy of the task there is.
    const raw = e.record?.raw ?? e.entry;
    if (this.replayTo) {
      if ((await this.redis.lrem(this.keys.failed, 1, e.entry)) === 0) return false;
      try {
        await this.replayTo.enqueue([raw]);
      } catch (err) {
        await this.redis.lpush(this.keys.failed, e.entry);
        throw err;
      }
      return true;
    }
    return (await runScript(this.redis, REPLAY_DEAD, 2, this.keys.failed, this.keys.pending, e.entry, raw)) === 1;
  }

  private async collect(filter: DeadLetterFilter): Promise<DeadLetterEntry[]> {
    const out: DeadLetterEntry[] = [];
    for await (const e of this.scan()) if (matches(e, filter)) out.push(e);
    return out;
  }

  private async *scan(): AsyncGenerator<DeadLetterEntry> {
    for (let start = 0; ; start += PAGE) {
      const page = await this.redis.lrange(this.keys.failed, start, start + PAGE - 1);
      for (let i = 0; i < page.length; i++) yield { index: start + i, entry: page[i]!, record: parse(page[i]!) };
      if (page.length < PAGE) return;
    }
  }
}

function parse(entry: string): DeadLetterRecord | null {
  try {
    const r = JSON.parse(entry) as DeadLetterRecord;
    return typeof r === 'object' && r !== null && typeof r.raw === 'string' ? r : null;
  } catch {
    return null;
  }
}

function matches(e: DeadLetterEntry, f: DeadLetterFilter | undefined): boolean {
  if (!f) return true;
  if (f.reason && e.record?.reason !== f.reason) return false;
  if (f.type && e.record?.task_type !== f.type) return false;
  if (f.taskId && e.record?.task_id !== f.taskId) return false;
  return true;
}
