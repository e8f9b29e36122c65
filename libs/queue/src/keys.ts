/**
 * Key names of the queue protocol (a public contract, see libs/queue/README.md). For Redis Cluster, give the
 * queue a hash tag (`{tasks}`) so that all its keys share one slot and the Lua scripts may touch them together.
 */
export interface QueueKeys {
  /** Producers LPUSH here; consumers take from the right (FIFO). */
  pending: string;
  /** The urgent lane: served before `pending` (with a starvation guard). LPUSH here for priority ≥ threshold. */
  pendingHigh: string;
  /** Tasks a consumer has taken and not yet settled. */
  processing: (consumerId: string) => string;
  /** Retries waiting for their due time (sorted set, score = due epoch ms). */
  delayed: string;
  /** Dead letters (poison or exhausted tasks), newest first, each with its reason. */
  failed: string;
  /** Live consumers (sorted set, score = lease expiry epoch ms). */
  consumers: string;
  /** Deliveries beyond the envelope's own `attempts`, by SHA-1 of the raw task (hash). */
  attempts: string;
}

export function queueKeys(queue: string): QueueKeys {
  return {
    pending: `${queue}:pending`,
    pendingHigh: `${queue}:pending:high`,
    processing: (consumerId) => `${queue}:processing:${consumerId}`,
    delayed: `${queue}:delayed`,
    failed: `${queue}:failed`,
    consumers: `${queue}:consumers`,
    attempts: `${queue}:attempts`,
  };
}
