import type { QueueDriverName, RedisClient } from '@telemetryhub/queue';

export interface CommandContext {
  redis: RedisClient;
  queue: string;
  driver: QueueDriverName;
  /** Shards the queue is spread over (1: not sharded). */
  shards: number;
  json: boolean;
  out: (line: string) => void;
}
