import type { RedisClient } from '../redis-connection.js';
import { queueKeys, type QueueKeys } from '../keys.js';
import { ENQUEUE_BOUNDED } from '../lua/scripts.js';
import { runScript } from '../lua/run-script.js';
import { QueueFullError } from '../errors.js';
import { PRIORITY_URGENT_MIN } from '@telemetryhub/schemas';
import { type QueuedTask, type QueueProducerOptions, serializeTask } from '../task.js';

/**
 * The producer side of the protocol: `LPUSH <q>:pending <envelope JSON>` (or `<q>:pending:high` for urgent
 * tasks). A batch of tasks goes out as one
 * command (one round trip, atomic); several batches are pipelined. With `maxDepth`, the push and the depth check
 * are one Lua script, so a full queue refuses the whole batch rather than half of it.
 */
export class RedisListProducer {
  readonly keys: QueueKeys;
  constructor(
    private readonly redis: RedisClient,
    readonly queue: string,
    private readonly opts: QueueProducerOptions = {},
  ) {
    this.keys = queueKeys(queue);
  }

  /**
   * Enqueues tasks in order (the first is consumed first), each in its lane by priority. Raw strings go to the
   * normal lane as they are. Resolves with the depth of the lanes pushed to, after the push.
   */
  async enqueue(tasks: ReadonlyArray<QueuedTask>): Promise<number> {
    let depth = 0;
    for (const [lane, values] of this.byLane(tasks)) {
      if (this.opts.maxDepth === undefined) {
        depth += await this.redis.lpush(lane, ...values);
        continue;
      }
      const d = (await runScript(this.redis, ENQUEUE_BOUNDED, 1, lane, this.opts.maxDepth, ...values)) as number;
      if (d < 0) throw new QueueFullError(this.queue, this.opts.maxDepth);
      depth += d;
    }
    return depth;
  }

  /**
   * Enqueues several batches in one pipeline (one round trip). Resolves with one flag per batch: true = pushed,
   * false = refused by the depth limit (retry it later). Rejects on a Redis error; some batches may then have
   * gone in, so a retry can duplicate tasks — harmless downstream, where readings dedup by event_id.
   */
  async enqueueBatches(batches: ReadonlyArray<ReadonlyArray<QueuedTask>>): Promise<boolean[]> {
    const pipeline = this.redis.pipeline();
    const commandsPerBatch: number[] = [];
    for (const batch of batches) {
      const lanes = this.byLane(batch);
      commandsPerBatch.push(lanes.length);
      for (const [lane, values] of lanes) {
        if (this.opts.maxDepth === undefined) pipeline.lpush(lane, ...values);
        // In a pipeline a NOSCRIPT reply cannot be retried in place: plain EVAL.
        else pipeline.eval(ENQUEUE_BOUNDED, 1, lane, this.opts.maxDepth, ...values);
      }
    }
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
    let at = 0;
    return commandsPerBatch.map((n) => {
      const ok = results.slice(at, at + n).every(([, depth]) => (depth as number) >= 0);
      at += n;
      return ok;
    });
  }

  /** Tasks grouped by lane (urgent first), each group in the given order. */
  private byLane(tasks: ReadonlyArray<QueuedTask>): Array<[string, string[]]> {
    const urgent: string[] = [];
    const normal: string[] = [];
    const threshold = this.opts.urgentPriority ?? PRIORITY_URGENT_MIN;
    for (const t of tasks) {
      if (typeof t !== 'string' && t.priority >= threshold) urgent.push(serializeTask(t));
      else normal.push(serializeTask(t));
    }
    const lanes: Array<[string, string[]]> = [];
    if (urgent.length) lanes.push([this.keys.pendingHigh, urgent]);
    if (normal.length) lanes.push([this.keys.pending, normal]);
    return lanes;
  }

  get maxDepth(): number | undefined {
    return this.opts.maxDepth;
  }

  /** Tasks waiting in both lanes. */
  async pendingDepth(): Promise<number> {
    const [[, a], [, b]] = (await this.redis.multi().llen(this.keys.pending).llen(this.keys.pendingHigh).exec()) as [
      [null, number],
      [null, number],
    ];
    return a + b;
  }
}
