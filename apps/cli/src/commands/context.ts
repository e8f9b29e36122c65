import type { QueueDriverName, RedisClient } from '@telemetryhub/common';

export interface CommandContext {
  redis: RedisClient;
  queue: string;
  driver: QueueDriverName;
  json: boolean;
  out: (line: string) => void;
}
