import { Worker, type Job } from 'bullmq';
import type { RedisClient } from '../redis-connection.js';
import { queueKeys, type QueueKeys } from '../keys.js';
import type { QueueConsumer } from '../driver.js';
import { newConsumerId, rawText, type DeadLetterRecord, type FetchedTask, type RawTask } from '../task.js';
import { BULLMQ_UNLIMITED, RetryAtError, type BullmqTaskData } from './job-options.js';

export interface BullmqConsumerOptions {
  consumerId?: string;
  /** BullMQ's lock duration (its "visibility window"): a job whose lock is not renewed this long is stalled. */
  leaseMs?: number;
  /** How long a fetch waits for work on an empty queue (BullMQ's drainDelay). Default 1000 ms. */
  blockMs?: number;
  /** Errors BullMQ's worker reports (connection loss, a failed stall check); it carries on by itself. */
  onError?: (err: Error) => void;
}

type TaskJob = Job<BullmqTaskData>;

/**
 * The consumer side of the `bullmq` driver: BullMQ's Worker in its manual mode (no processor function;
 * `getNextJob` with this consumer's token), so the processor's loop, runner and handlers stay the same.
 *
 * Mapping: a held task = an active job locked by our token; the heartbeat extends those locks; BullMQ's stalled
 * check returns the jobs of a consumer that stopped (our reaper's job), counted in `stalledCounter`; a retry is
 * BullMQ's own (moveToFailed with attempts left → its delayed set), at the delay the processor chose; a dead
 * letter goes to our DLQ list (`<q>:failed`, same records as the `redis-list` driver, so the same DLQ tools work)
 * and the job is removed. The DLQ record is written before the job is removed: a crash between the two leaves the
 * task in both places (delivered again, dead-lettered twice), never in neither.
 */
export class BullmqConsumer implements QueueConsumer {
  readonly consumerId: string;
  readonly keys: QueueKeys;
  private readonly worker: Worker<BullmqTaskData>;
  private readonly leaseMs: number;
  private readonly held = new Map<string, TaskJob[]>();
  private heldCount = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: RedisClient,
    readonly queue: string,
    opts: BullmqConsumerOptions = {},
  ) {
    this.consumerId = opts.consumerId ?? newConsumerId();
    this.keys = queueKeys(queue);
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.worker = new Worker<BullmqTaskData>(queue, null, {
      connection: redis,
      autorun: false,
      lockDuration: this.leaseMs,
      stalledInterval: Math.max(100, Math.round(this.leaseMs / 2)),
      maxStalledCount: BULLMQ_UNLIMITED,
      drainDelay: Math.max(0.01, (opts.blockMs ?? 1000) / 1000),
      settings: { backoffStrategy: (_n, _type, err) => (err instanceof RetryAtError ? err.delayMs : 1000) },
    });
    this.worker.on('error', opts.onError ?? (() => {}));
  }

  /**
   * Up to `max` tasks: the first waits (BullMQ's blocking wait, in slices, until `blockMs` has passed), the rest
   * are taken without waiting, many requests in flight at once (one round trip per job is BullMQ's protocol).
   */
  async fetch(max: number, blockMs: number): Promise<FetchedTask[]> {
    const deadline = Date.now() + blockMs;
    let first: TaskJob | undefined;
    for (;;) {
      first = await this.worker.getNextJob(this.consumerId, { block: true });
      if (first || Date.now() >= deadline) break;
    }
    if (!first) return [];
    const jobs = [first];
    while (jobs.length < max) {
      const want = Math.min(max - jobs.length, 100);
      const more = await Promise.all(
        Array.from({ length: want }, () => this.worker.getNextJob(this.consumerId, { block: false })),
      );
      const got = more.filter((j): j is TaskJob => j !== undefined);
      jobs.push(...got);
      if (got.length < want) break;
    }
    for (const j of jobs) this.hold(j);
    return jobs.map((j) => ({ raw: j.data.raw, redeliveries: j.attemptsMade + j.stalledCounter }));
  }

  async ack(raws: readonly RawTask[]): Promise<number> {
    const results = await Promise.all(
      raws.map((raw) => this.settle(raw, (job) => job.moveToCompleted(null, this.consumerId, false))),
    );
    return results.filter(Boolean).length;
  }

  async retryLater(raw: RawTask, dueMs: number): Promise<boolean> {
    return this.settle(raw, async (job) => {
      if (job.data.first_failed_at === undefined) await job.updateData({ ...job.data, first_failed_at: Date.now() });
      await job.moveToFailed(new RetryAtError(Math.max(0, dueMs - Date.now())), this.consumerId, false);
    });
  }

  async firstFailure(raw: RawTask): Promise<Date | null> {
    const ms = this.held.get(rawText(raw))?.[0]?.data.first_failed_at;
    return ms === undefined ? null : new Date(ms);
  }

  async deadLetter(raw: RawTask, record: Omit<DeadLetterRecord, 'raw' | 'consumer'>): Promise<void> {
    await this.deadLetterParts(raw, [{ ...record, raw: rawText(raw) }]);
  }

  /** The records first, then the job completed: a crash between the two dead-letters the parts twice, never not. */
  async deadLetterParts(raw: RawTask, parts: ReadonlyArray<Omit<DeadLetterRecord, 'consumer'>>): Promise<void> {
    const records = parts.map((p) => JSON.stringify({ ...p, consumer: this.consumerId } satisfies DeadLetterRecord));
    if (records.length) await this.redis.lpush(this.keys.failed, ...records);
    await this.settle(raw, (job) => job.moveToCompleted(null, this.consumerId, false));
  }

  /** Extends the lock of every job held. */
  async heartbeat(): Promise<void> {
    const jobs = [...this.held.values()].flat();
    await Promise.all(jobs.map((j) => j.extendLock(this.consumerId, this.leaseMs)));
  }

  startHeartbeat(onError: (err: unknown) => void = () => {}): void {
    if (this.heartbeatTimer) return;
    // BullMQ's stalled check is what returns the jobs of a consumer that stopped: every consumer runs it.
    void this.worker.startStalledCheckTimer().catch(onError);
    this.heartbeatTimer = setInterval(() => void this.heartbeat().catch(onError), Math.max(100, this.leaseMs / 3));
    this.heartbeatTimer.unref();
  }

  stopHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  async requeueInFlight(opts: { keepHeartbeat?: boolean } = {}): Promise<number> {
    if (!opts.keepHeartbeat) this.stopHeartbeat();
    const raws = [...this.held.entries()].flatMap(([raw, jobs]) => jobs.map(() => raw));
    const results = await Promise.all(
      raws.map((raw) => this.settle(raw, (job) => job.moveToWait(this.consumerId).then(() => undefined))),
    );
    return results.filter(Boolean).length;
  }

  async inFlight(): Promise<number> {
    return this.heldCount;
  }

  async close(): Promise<void> {
    this.stopHeartbeat();
    await this.worker.close();
  }

  private hold(job: TaskJob): void {
    const list = this.held.get(job.data.raw);
    if (list) list.push(job);
    else this.held.set(job.data.raw, [job]);
    this.heldCount++;
  }

  /**
   * Applies a transition to one held job of these bytes and forgets it. False if none was held, or if BullMQ
   * refused because the lock was lost (the job was returned to the queue after this consumer's lease expired).
   */
  private async settle(raw: RawTask, move: (job: TaskJob) => Promise<unknown>): Promise<boolean> {
    const text = rawText(raw);
    const list = this.held.get(text);
    const job = list?.shift();
    if (!job) return false;
    if (list!.length === 0) this.held.delete(text);
    this.heldCount--;
    try {
      await move(job);
      return true;
    } catch (err) {
      if (isLostLock(err)) return false;
      throw err;
    }
  }
}

/** BullMQ's refusal of a transition by a worker that no longer holds the job's lock. */
function isLostLock(err: unknown): boolean {
  const m = (err as Error).message ?? '';
  return /Missing lock|Lock mismatch|Missing key|is not in the active state/i.test(m);
}
