import type { Redis } from 'ioredis';
import type { QueueDriverName } from '@telemetryhub/common';

export interface CommandContext {
  redis: Redis;
  queue: string;
  driver: QueueDriverName;
  json: boolean;
  out: (line: string) => void;
}
