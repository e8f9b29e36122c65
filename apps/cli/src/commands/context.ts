import type { Redis } from 'ioredis';

export interface CommandContext {
  redis: Redis;
  queue: string;
  json: boolean;
  out: (line: string) => void;
}
