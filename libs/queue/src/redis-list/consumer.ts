import { createHash } from 'node:crypto';
import type { RedisClient } from '../redis-connection.js';
import { queueKeys, type QueueKeys } from '../keys.js';
import { ACK_BATCH, ACK_RUN, DEAD_LETTER, FETCH_BATCH, REQUEUE, RETRY_LATER } from '../lua/scripts.js';
import { runScript, runScriptForBuffers } from '../lua/run-script.js';
import { type DeadLetterRecord, type FetchedTask, type RawTask, newConsumerId, rawText } from '../task.js';

export interface ReliableConsumerOptions {
  consumerId?: string;
  /**
   * Starvation guard: after this many fetches in a row served only from the urgent lane while normal work
   * waits, one fetch serves the normal lane first. Default 4 (normal work gets at least every 5th fetch).
   */
  maxUrgentStreak?: number;
  /** How long a lease lasts without a heartbeat (ms); after it the reaper returns this consumer's tasks. */
  leaseMs?: number;
}

/**
 * The consumer side of the protocol: a task taken is moved atomically into this consumer's processing list and
 * stays there until it is acked, scheduled for retry or dead-lettered, so a consumer that dies loses nothing. The
 * consumer holds a lease (`<q>:consumers`), renewed by every fetch and by a heartbeat; when the lease expires the
 * reaper (any consumer's QueueMaintenance) returns its tasks to the queue.
 *
 * Two connections: `redis` for scripts, `blocking` for the BLMOVE that waits when the queue is empty. Tasks are
 * fetched as Buffers (RawTask says why).
 */
export class ReliableConsumer {
  readonly keys: QueueKeys;
  readonly consumerId: string;
  readonly processingKey: string;
  readonly leaseMs: number;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /**
   * Tasks fetched and not yet settled through this object, and fetches under way: a hint, never trusted for
   * correctness. When both are 0 the processing list is most likely empty, and fetchNow reads the tasks it takes
   * in the same round trip as its script instead of a second one.
   */
  private heldHint = 0;
  private fetchesUnderway = 0;
  /** Tasks found in this consumer's processing list that no fetch had returned (a lost reply), taken since. */
  adoptedTasks = 0;
  private urgentStreak = 0;
  private readonly maxUrgentStreak: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly blocking: RedisClient,
    readonly queue: string,
    opts: ReliableConsumerOptions = {},
  ) {
    this.keys = queueKeys(queue);
    this.consumerId = opts.consumerId ?? newConsumerId();
    this.processingKey = this.keys.processing(this.consumerId);
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.maxUrgentStreak = opts.maxUrgentStreak ?? 4;
  }

  /**
   * Takes up to `max` tasks: urgent lane first (with the starvation guard), oldest first within a lane. If none
   * is waiting, blocks on BLMOVE for the first normal task in slices of at most 250 ms, looking at the urgent
   * lane between slices (BLMOVE waits on one list only), until `blockMs` has passed. Returns [] if nothing came.
   */
  async fetch(max: number, blockMs: number): Promise<FetchedTask[]> {
    const deadline = Date.now() + blockMs;
    for (;;) {
      const batch = await this.fetchNow(max);
      if (batch.length) return batch;
      const left = deadline - Date.now();
      if (left <= 0) return [];
      // No heartbeat needed here: fetchNow's script renewed the lease a moment ago and a slice is ≤ 250 ms.
      const first = await this.waitForFirst(Math.min(250, left));
      if (first === null) continue;
      const rest = max > 1 ? await this.fetchNow(max - 1) : [];
      return [first, ...rest];
    }
  }

  /**
   * Waits up to `ms` (at least 10) on the normal lane with BLMOVE and takes the first task that comes, or null.
   * The urgent lane is not watched meanwhile: keep `ms` short and call fetchNow between waits.
   */
  async waitForFirst(ms: number): Promise<FetchedTask | null> {
    const raw = await this.blocking.blmoveBuffer(
      this.keys.pending,
      this.processingKey,
      'RIGHT',
      'LEFT',
      Math.max(10, ms) / 1000,
    );
    if (raw === null) return null;
    this.heldHint++;
    return { raw, redeliveries: Number((await this.redis.hget(this.keys.attempts, sha1(raw))) ?? 0) };
  }

  /**
   * Takes up to `max` waiting tasks in one script; never blocks. `guarded` (default): urgent lane first, with
   * this consumer's starvation guard. `urgent`: the urgent lane only; `normal-first`: the normal lane, then the
   * urgent one — for a caller keeping its own guard over several queues (ShardedConsumer).
   */
  async fetchNow(max: number, order: 'guarded' | 'urgent' | 'normal-first' = 'guarded'): Promise<FetchedTask[]> {
    const normalFirst = order === 'normal-first' || (order === 'guarded' && this.urgentStreak >= this.maxUrgentStreak);
    const lanes =
      order === 'urgent'
        ? [this.keys.pendingHigh, this.keys.pendingHigh]
        : normalFirst
          ? [this.keys.pending, this.keys.pendingHigh]
          : [this.keys.pendingHigh, this.keys.pending];
    const args = [
      lanes[0]!,
      lanes[1]!,
      this.processingKey,
      this.keys.consumers,
      this.keys.attempts,
      max,
      this.consumerId,
      Date.now() + this.leaseMs,
    ];
    // Expecting an empty processing list (nothing held, no other fetch under way), the list's tail is read right
    // behind the script, in the same round trip; it is used only if the script found the list empty.
    const expectEmpty = this.heldHint === 0 && this.fetchesUnderway === 0;
    this.fetchesUnderway++;
    let reply: unknown;
    let tail: Buffer[] | undefined;
    try {
      const script = runScriptForBuffers(this.redis, FETCH_BATCH, 5, ...args);
      if (expectEmpty) {
        [reply, tail] = await Promise.all([script, this.redis.lrangeBuffer(this.processingKey, -max, -1)]);
      } else reply = await script;
    } finally {
      this.fetchesUnderway--;
    }
    const [returned, fromFirst, counts, taken, wasEmpty] = reply as [Buffer[], number, number[], number, number];
    // When the processing list was empty the script does not return the tasks: they are the list's `taken`
    // oldest now, at its tail (anything added meanwhile entered at the head), newest first; reversed, they are in
    // the order taken. Only this consumer adds to its list, and the reaper empties it only once the lease the
    // script just renewed has run out. The tail read behind the script missed them only if the script had to be
    // sent again (not cached on the server: it ran after the read).
    let tasks = returned;
    let adopted = 0;
    if (wasEmpty === 1 && taken > 0)
      tasks = (
        tail && tail.length >= taken
          ? tail.slice(-taken)
          : await this.redis.lrangeBuffer(this.processingKey, -taken, -1)
      ).reverse();
    else if (expectEmpty && wasEmpty === 0) {
      // The list held tasks although this consumer had none in hand and no fetch under way: a move whose reply was
      // lost — a client-side timeout that fired although Redis had moved the task (after the process was frozen,
      // or stalled past the blocking timeout). They are this consumer's (its lease is alive, so no reaper will
      // return them): take them now, oldest first, before the ones just taken.
      tasks = (await this.redis.lrangeBuffer(this.processingKey, 0, -1)).reverse();
      adopted = tasks.length - returned.length;
      this.adoptedTasks += adopted;
    }
    this.heldHint += tasks.length;
    const out = tasks.map((raw, i) => ({ raw, redeliveries: i < adopted ? 0 : (counts[i - adopted] ?? 0) }));
    if (order !== 'guarded') return out;
    const fromNormal = normalFirst ? fromFirst > 0 : fromFirst < tasks.length;
    // The streak counts fetches that took urgent work only while normal work may be waiting behind it.
    if (out.length === 0 || fromNormal) this.urgentStreak = 0;
    else this.urgentStreak++;
    return out;
  }

  /**
   * Settles tasks as done; pass them in fetch order. Returns how many were still held (fewer: the reaper took
   * some back meanwhile). A healthy batch is one contiguous run at the tail of the processing list and is
   * trimmed without sending the tasks back (ackRun); anything else is removed task by task (ackBatch).
   */
  async ack(raws: readonly RawTask[]): Promise<number> {
    if (raws.length === 0) return 0;
    this.settled(raws.length);
    if (raws.length > 1) {
      const n = (await runScript(
        this.redis,
        ACK_RUN,
        2,
        this.processingKey,
        this.keys.attempts,
        raws.length,
        raws[0]!,
        raws.at(-1)!,
      )) as number;
      if (n >= 0) return n;
    }
    return (await runScript(this.redis, ACK_BATCH, 2, this.processingKey, this.keys.attempts, ...raws)) as number;
  }

  /** Schedules a task for another delivery at `dueMs`, counting this attempt. False if it was no longer held. */
  async retryLater(raw: RawTask, dueMs: number): Promise<boolean> {
    this.settled(1);
    const moved = await runScript(
      this.redis,
      RETRY_LATER,
      3,
      this.processingKey,
      this.keys.delayed,
      this.keys.attempts,
      raw,
      dueMs,
      Date.now(),
    );
    return moved === 1;
  }

  /** When this task first failed (as recorded by retryLater), or null if it never failed before. */
  async firstFailure(raw: RawTask): Promise<Date | null> {
    const ms = await this.redis.hget(this.keys.attempts, `${sha1(raw)}:first`);
    return ms ? new Date(Number(ms)) : null;
  }

  /** Moves one task from processing to the DLQ with its failure record, atomically. */
  async deadLetter(raw: RawTask, record: Omit<DeadLetterRecord, 'raw' | 'consumer'>): Promise<void> {
    await this.deadLetterParts(raw, [{ ...record, raw: rawText(raw) }]);
  }

  /** Settles a task by writing the DLQ records of its failed parts in its place, atomically (one script). */
  async deadLetterParts(raw: RawTask, parts: ReadonlyArray<Omit<DeadLetterRecord, 'consumer'>>): Promise<void> {
    this.settled(1);
    const records = parts.map((p) => JSON.stringify({ ...p, consumer: this.consumerId } satisfies DeadLetterRecord));
    await runScript(
      this.redis,
      DEAD_LETTER,
      3,
      this.processingKey,
      this.keys.failed,
      this.keys.attempts,
      raw,
      ...records,
    );
  }

  /** Renews this consumer's lease. */
  async heartbeat(): Promise<void> {
    await this.redis.zadd(this.keys.consumers, Date.now() + this.leaseMs, this.consumerId);
  }

  /** Renews the lease every third of its length until stopHeartbeat(); a failed beat is retried next time. */
  startHeartbeat(onError: (err: unknown) => void = () => {}): void {
    if (this.heartbeatTimer) return;
    void this.heartbeat().catch(onError);
    this.heartbeatTimer = setInterval(() => void this.heartbeat().catch(onError), Math.max(100, this.leaseMs / 3));
    this.heartbeatTimer.unref();
  }

  stopHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  /**
   * Gives back every task this consumer holds, to be taken next, in order, and drops the lease (no attempt is
   * counted). For work that could not be finished, e.g. PostgreSQL down at shutdown, or a batch whose settling
   * failed (`keepHeartbeat`: the consumer goes on, its next fetch takes a new lease).
   */
  async requeueInFlight(opts: { keepHeartbeat?: boolean } = {}): Promise<number> {
    if (!opts.keepHeartbeat) this.stopHeartbeat();
    this.heldHint = 0;
    return (await runScript(
      this.redis,
      REQUEUE,
      4,
      this.processingKey,
      this.keys.pending,
      this.keys.consumers,
      this.keys.attempts,
      this.consumerId,
      0,
      '',
    )) as number;
  }

  private settled(n: number): void {
    this.heldHint = Math.max(0, this.heldHint - n);
  }

  /** Tasks waiting in the urgent lane. */
  async urgentDepth(): Promise<number> {
    return this.redis.llen(this.keys.pendingHigh);
  }

  /** Tasks this consumer holds (fetched, not settled). */
  async inFlight(): Promise<number> {
    return this.redis.llen(this.processingKey);
  }
}

/** Same digest as Lua's redis.sha1hex: the attempt-count key of a raw task. */
export function sha1(raw: RawTask): string {
  return createHash('sha1').update(raw).digest('hex');
}
