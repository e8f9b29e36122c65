import type { RedisClient } from '../redis-connection.js';
import type { QueueConsumer } from '../driver.js';
import { ReliableConsumer } from '../redis-list/consumer.js';
import { newConsumerId, type DeadLetterRecord, type FetchedTask, type RawTask } from '../task.js';

export interface ShardedConsumerOptions {
  consumerId?: string;
  leaseMs?: number;
  /** Longest wait on one shard's empty queue before looking at the others again (ms). Default 50. */
  sliceMs?: number;
  /** Starvation guard, as ReliableConsumerOptions.maxUrgentStreak but over all shards. Default 4. */
  maxUrgentStreak?: number;
  /** How long a fetch waits for a shard to answer before serving the others without it (ms). Default 250. */
  probeMs?: number;
}

/**
 * One consumer serving every shard of a sharded queue: a ReliableConsumer per shard, all with the same consumer
 * id (a processing list and a lease in each shard, so each shard's reaper can return what it holds). A fetch
 * takes what is waiting from the shards in turn, starting one further each time so that no shard is always
 * served last; when all are empty it waits on one shard at a time, in short slices, rotating. It remembers which
 * shard each task came from, to settle it there.
 */
export class ShardedConsumer implements QueueConsumer {
  readonly consumerId: string;
  private readonly shards: ReliableConsumer[];
  /**
   * Raw task → the shards it was taken from and not yet settled (a list: identical bytes may sit in two). Keyed by
   * the Buffer each fetch returned, so settling what was fetched finds it without reading its bytes; a task
   * handed back in another form (a string, a copy) is found by its content (heldKey).
   */
  private readonly heldIn = new Map<RawTask, number[]>();
  private next = 0;
  private readonly sliceMs: number;
  private urgentStreak = 0;
  /** Shards that failed lately: not asked until `until`; `delay` doubles with each failure (to 5 s). */
  private readonly restingUntil = new Map<number, { until: number; delay: number }>();
  private readonly maxUrgentStreak: number;
  private readonly probeMs: number;

  constructor(redis: RedisClient, blocking: RedisClient, queues: readonly string[], opts: ShardedConsumerOptions = {}) {
    this.consumerId = opts.consumerId ?? newConsumerId();
    const shardOpts = { consumerId: this.consumerId, ...(opts.leaseMs ? { leaseMs: opts.leaseMs } : {}) };
    this.shards = queues.map((q) => new ReliableConsumer(redis, blocking, q, shardOpts));
    this.sliceMs = opts.sliceMs ?? 50;
    this.maxUrgentStreak = opts.maxUrgentStreak ?? 4;
    this.probeMs = opts.probeMs ?? 250;
  }

  /**
   * Up to `max` tasks: first the urgent lanes of every shard, then the normal lanes (and urgent work come since), each pass over the
   * shards in turn (starting one further each time, so no shard is always served last). Starvation guard across
   * shards: after `maxUrgentStreak` fetches in a row that took urgent work only, a fetch serves normal lanes
   * first. A shard that fails (its primary is down, a failover under way) is skipped for this fetch, so the
   * other shards keep being served, and rests for a backoff (250 ms doubling to 5 s) before it is asked again;
   * only when every shard fails does it throw. With nothing waiting anywhere it
   * waits on one shard's normal lane at a time, in short slices, rotating.
   */
  async fetch(max: number, blockMs: number): Promise<FetchedTask[]> {
    const deadline = Date.now() + blockMs;
    for (;;) {
      const start = this.rotate();
      const out: FetchedTask[] = [];
      const down = new Map<number, unknown>();
      const healthy = new Set<number>();
      // A shard that failed lately rests (is not asked) for a backoff, so a dead primary does not cost every
      // fetch a command timeout; when all rest, all are asked.
      const resting = this.shards.map((_, s) => (this.restingUntil.get(s)?.until ?? 0) > Date.now());
      if (resting.every(Boolean)) resting.fill(false);
      resting.forEach((r, s) => r && down.set(s, undefined));
      const failedAt = (s: number, err: unknown) => {
        down.set(s, err);
        const delay = Math.min(2 * (this.restingUntil.get(s)?.delay ?? 125), 5000);
        this.restingUntil.set(s, { until: Date.now() + delay, delay });
      };
      const servedBy = (s: number) => {
        healthy.add(s);
        this.restingUntil.delete(s);
      };
      // One look at every shard at once (concurrent commands, one round trip): which have urgent work, and which
      // answer at all. During a failover ioredis holds a dead primary's commands until a replica takes over
      // (seconds): a shard not answering within probeMs rests, and this fetch serves the others. (A read: safe
      // to leave unanswered; the moves that follow go only to shards that answered.)
      const urgentWaiting = new Set<number>();
      const asked = this.shards.map((c, s) => (down.has(s) ? null : withinMs(c.urgentDepth(), this.probeMs)));
      (await Promise.all(asked)).forEach((d, s) => {
        if (d === null) return;
        if (typeof d !== 'number') failedAt(s, d);
        else if (d > 0 && this.urgentStreak < this.maxUrgentStreak) urgentWaiting.add(s);
      });
      const pass = async (order: 'urgent' | 'normal-first') => {
        for (let i = 0; i < this.shards.length && out.length < max; i++) {
          const s = (start + i) % this.shards.length;
          if (down.has(s) || (order === 'urgent' && !urgentWaiting.has(s))) continue;
          try {
            for (const t of await this.shards[s]!.fetchNow(max - out.length, order)) out.push(this.hold(t, s));
            servedBy(s);
          } catch (err) {
            failedAt(s, err);
          }
        }
      };
      if (urgentWaiting.size) await pass('urgent');
      const urgentOnly = out.length;
      await pass('normal-first');
      this.urgentStreak = out.length > 0 && out.length === urgentOnly ? this.urgentStreak + 1 : 0;
      if (out.length) return out;
      const waitOn = [...healthy][0];
      if (waitOn === undefined)
        throw [...down.values()].find((e) => e !== undefined) ?? new Error('every shard failed');
      const left = deadline - Date.now();
      if (left <= 0) return [];
      const first = await this.shards[waitOn]!.waitForFirst(Math.min(this.sliceMs, left));
      if (first === null) continue;
      const rest = max > 1 ? await this.shards[waitOn]!.fetchNow(max - 1) : [];
      return [first, ...rest].map((t) => this.hold(t, waitOn));
    }
  }

  async ack(raws: readonly RawTask[]): Promise<number> {
    const byShard = new Map<number, RawTask[]>();
    for (const raw of raws) {
      const s = this.release(raw);
      if (s === undefined) continue;
      const list = byShard.get(s);
      if (list) list.push(raw);
      else byShard.set(s, [raw]);
    }
    const counts = await Promise.all([...byShard].map(([s, rs]) => this.shards[s]!.ack(rs)));
    return counts.reduce((a, b) => a + b, 0);
  }

  async retryLater(raw: RawTask, dueMs: number): Promise<boolean> {
    const s = this.release(raw);
    return s === undefined ? false : this.shards[s]!.retryLater(raw, dueMs);
  }

  async firstFailure(raw: RawTask): Promise<Date | null> {
    const key = this.heldKey(raw);
    const s = key === undefined ? undefined : this.heldIn.get(key)?.[0];
    return s === undefined ? null : this.shards[s]!.firstFailure(raw);
  }

  async deadLetter(raw: RawTask, record: Omit<DeadLetterRecord, 'raw' | 'consumer'>): Promise<void> {
    // A task no longer known here was never fetched by this consumer: the first shard keeps its record.
    await this.shards[this.release(raw) ?? 0]!.deadLetter(raw, record);
  }

  /** The parts go to the task's own shard (a task holds one shard's devices, and so do its parts). */
  async deadLetterParts(raw: RawTask, parts: ReadonlyArray<Omit<DeadLetterRecord, 'consumer'>>): Promise<void> {
    await this.shards[this.release(raw) ?? 0]!.deadLetterParts(raw, parts);
  }

  startHeartbeat(onError?: (err: unknown) => void): void {
    for (const s of this.shards) s.startHeartbeat(onError);
  }

  stopHeartbeat(): void {
    for (const s of this.shards) s.stopHeartbeat();
  }

  async requeueInFlight(opts: { keepHeartbeat?: boolean } = {}): Promise<number> {
    const counts = await Promise.all(this.shards.map((s) => s.requeueInFlight(opts)));
    this.heldIn.clear();
    return counts.reduce((a, b) => a + b, 0);
  }

  async inFlight(): Promise<number> {
    const counts = await Promise.all(this.shards.map((s) => s.inFlight()));
    return counts.reduce((a, b) => a + b, 0);
  }

  private rotate(): number {
    const start = this.next;
    this.next = (this.next + 1) % this.shards.length;
    return start;
  }

  private hold(t: FetchedTask, shard: number): FetchedTask {
    const at = this.heldIn.get(t.raw);
    if (at) at.push(shard);
    else this.heldIn.set(t.raw, [shard]);
    return t;
  }

  /** Forgets one holding of `raw` and says in which shard it was (oldest first), or undefined. */
  private release(raw: RawTask): number | undefined {
    const key = this.heldKey(raw);
    const at = key === undefined ? undefined : this.heldIn.get(key);
    if (!at) return undefined;
    const s = at.shift();
    if (at.length === 0) this.heldIn.delete(key!);
    return s;
  }

  /**
   * The key `raw` is held under: itself (as fetched), or a held task of the same bytes — compared as bytes, so that
   * a miss (a task the reaper took back) does not make a string of every task held.
   */
  private heldKey(raw: RawTask): RawTask | undefined {
    if (this.heldIn.has(raw)) return raw;
    const bytes = typeof raw === 'string' ? Buffer.from(raw) : raw;
    for (const key of this.heldIn.keys())
      if ((typeof key === 'string' ? Buffer.from(key) : key).equals(bytes)) return key;
    return undefined;
  }
}

/** The value of `p`, or its error, or a timeout error if it takes longer than `ms` (p itself goes on). */
function withinMs<T>(p: Promise<T>, ms: number): Promise<T | Error> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Error>((resolve) => {
    timer = setTimeout(() => resolve(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p.catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))), late]).finally(
    () => clearTimeout(timer),
  );
}
