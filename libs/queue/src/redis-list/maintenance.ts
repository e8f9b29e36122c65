import type { RedisClient } from '../redis-connection.js';
import { queueKeys, type QueueKeys } from '../keys.js';
import { PROMOTE_DUE, REQUEUE } from '../lua/scripts.js';
import { PeriodicTask } from '@telemetryhub/service-kit';
import { runScript } from '../lua/run-script.js';

export interface MaintenanceEvents {
  /** Tasks of a consumer whose lease expired were returned to the queue. */
  onReaped?: (consumerId: string, tasks: number) => void;
  onPromoted?: (tasks: number) => void;
  onError?: (err: unknown) => void;
}

/**
 * The queue's housekeeping, run by every consumer process (each step is one atomic script, so several replicas
 * running it at once do no harm):
 * - promote: retries whose due time has come go back to the consumer end of pending;
 * - reap: a consumer whose lease expired (killed with -9, OOM-killed, partitioned, frozen) has its tasks returned
 *   to the consumer end of pending in their order, each delivery counted, so a task that crashes every consumer
 *   ends in the DLQ after maxAttempts instead of looping forever.
 * Given several queues (the shards of a sharded queue), it keeps each of them.
 */
export class QueueMaintenance {
  private readonly queues: QueueKeys[];
  private readonly periodic: PeriodicTask;

  constructor(
    private readonly redis: RedisClient,
    queue: string | readonly string[],
    private readonly events: MaintenanceEvents = {},
    private readonly opts: { intervalMs?: number; batch?: number } = {},
  ) {
    this.queues = (typeof queue === 'string' ? [queue] : queue).map(queueKeys);
    this.periodic = new PeriodicTask(
      () => this.runOnce(),
      opts.intervalMs ?? 1000,
      (err) => events.onError?.(err),
    );
  }

  /** Moves due retries back to pending. Returns how many. */
  async promoteDue(now = Date.now()): Promise<number> {
    let total = 0;
    for (const keys of this.queues) total += await this.promoteDueIn(keys, now);
    if (total) this.events.onPromoted?.(total);
    return total;
  }

  private async promoteDueIn(keys: QueueKeys, now: number): Promise<number> {
    let total = 0;
    for (;;) {
      const n = (await runScript(
        this.redis,
        PROMOTE_DUE,
        2,
        keys.delayed,
        keys.pending,
        now,
        this.opts.batch ?? 500,
      )) as number;
      total += n;
      if (n < (this.opts.batch ?? 500)) return total;
    }
  }

  /** Returns the tasks of every consumer whose lease expired before `now`. Returns how many tasks. */
  async reapExpired(now = Date.now()): Promise<number> {
    let total = 0;
    for (const keys of this.queues) total += await this.reapExpiredIn(keys, now);
    return total;
  }

  private async reapExpiredIn(keys: QueueKeys, now: number): Promise<number> {
    const expired = await this.redis.zrangebyscore(keys.consumers, '-inf', `(${now}`, 'LIMIT', 0, 100);
    let total = 0;
    for (const id of expired) {
      const n = (await runScript(
        this.redis,
        REQUEUE,
        4,
        keys.processing(id),
        keys.pending,
        keys.consumers,
        keys.attempts,
        id,
        1,
        now,
      )) as number;
      if (n > 0) {
        total += n;
        this.events.onReaped?.(id, n);
      }
    }
    return total;
  }

  /** One round of housekeeping. */
  async runOnce(): Promise<void> {
    await this.promoteDue();
    await this.reapExpired();
  }

  start(): void {
    this.periodic.start();
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }
}
