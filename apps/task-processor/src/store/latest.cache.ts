import type { Logger } from 'pino';
import { briefError, type Reading, type RedisClient } from '@telemetryhub/common';
import type { LatestReading } from './raw.repo.js';

/**
 * latestIfNewer — keep, per metric, the reading with the newest event time (a late or replayed reading never
 * overwrites a newer one).
 *   KEYS[1] the device's hash
 *   ARGV    triples: metric, event time (epoch ms), the reading as stored ("<ms>|<json>")
 * Returns the number of fields written.
 */
const LATEST_IF_NEWER = `
local written = 0
for i = 1, #ARGV, 3 do
  local current = redis.call('HGET', KEYS[1], ARGV[i])
  local currentMs = current and tonumber(string.match(current, '^(%d+)|')) or -1
  if tonumber(ARGV[i + 1]) > currentMs then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
    written = written + 1
  end
end
return written
`;

/**
 * The newest reading per device and metric in Redis, for "current" queries that must not touch PostgreSQL. It is
 * a cache: written after the readings are committed, best effort (a failure is logged, reads fall back to
 * PostgreSQL), one hash per device (`<prefix>:latest:<device>`, one field per metric).
 */
export class LatestCache {
  constructor(
    private readonly redis: RedisClient,
    private readonly log: Logger,
    private readonly prefix = 'telemetry',
  ) {}

  private key(device: string): string {
    return `${this.prefix}:latest:${device}`;
  }

  async update(readings: readonly Reading[], storedAt = new Date()): Promise<void> {
    const byDevice = new Map<string, Array<string | number>>();
    for (const r of readings) {
      const ms = Date.parse(r.event_time);
      const value: LatestReading = {
        device_id: r.device_id,
        metric: r.metric,
        event_time: r.event_time,
        value: r.value,
        unit: r.unit,
        event_id: r.event_id,
        stored_at: storedAt.toISOString(),
      };
      const args = byDevice.get(r.device_id) ?? [];
      args.push(r.metric, ms, `${ms}|${JSON.stringify(value)}`);
      byDevice.set(r.device_id, args);
    }
    if (byDevice.size === 0) return;
    try {
      // Sent together, not awaited one by one: one round trip on a single server (ioredis writes each command at
      // once), one pipeline per node on a cluster (enableAutoPipelining). Not an explicit pipeline: in a cluster
      // one may not span the slots the devices hash to.
      await Promise.all(
        [...byDevice].map(([device, args]) => this.redis.eval(LATEST_IF_NEWER, 1, this.key(device), ...args)),
      );
    } catch (err) {
      this.log.warn({ err: briefError(err) }, 'could not update latest values in Redis');
    }
  }

  /** The cached newest reading, or null on a miss or when Redis does not answer. */
  async get(device: string, metric: string): Promise<LatestReading | null> {
    try {
      const stored = await this.redis.hget(this.key(device), metric);
      return stored ? (JSON.parse(stored.slice(stored.indexOf('|') + 1)) as LatestReading) : null;
    } catch {
      return null;
    }
  }
}
