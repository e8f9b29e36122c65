import type { Logger } from 'pino';
import { briefError } from '@telemetryhub/service-kit';
import { runScript, type RedisClient } from '@telemetryhub/queue';
import type { LatestReading } from './raw.repo.js';
import type { LatestValues } from './latest-values.js';

/**
 * latestIfNewer — keep, per device and metric, the reading with the newest event time (a late or replayed reading
 * never overwrites a newer one).
 *   KEYS    the devices' hashes
 *   ARGV    per key in order: the number of its triples, then the triples — metric, event time (epoch ms), the
 *           reading as stored ("<ms>|<json>")
 * Returns the number of fields written.
 */
const LATEST_IF_NEWER = `
local written = 0
local a = 1
for k = 1, #KEYS do
  local n = tonumber(ARGV[a])
  a = a + 1
  for _ = 1, n do
    local current = redis.call('HGET', KEYS[k], ARGV[a])
    local currentMs = current and tonumber(string.match(current, '^(%d+)|')) or -1
    if tonumber(ARGV[a + 1]) > currentMs then
      redis.call('HSET', KEYS[k], ARGV[a], ARGV[a + 2])
      written = written + 1
    end
    a = a + 3
  end
end
return written
`;

/** Devices per script call: bounds how long one call holds Redis (a few hundred hash writes). */
const DEVICES_PER_CALL = 256;

/**
 * The newest reading per device and metric in Redis, for "current" queries that must not touch PostgreSQL. It is
 * a cache: written by the fold (fold/deferred-fold.ts) after the readings are committed, so it may trail PostgreSQL
 * by a fold interval, never run ahead of it; best effort (a failure is logged, reads fall back to PostgreSQL); one
 * hash per device (`<prefix>:latest:<device>`, one field per metric).
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

  /**
   * Writes the newest reading of each device and metric gathered in `values`, in one script call per
   * DEVICES_PER_CALL devices, by SHA, all sent together: one round trip on a single server. On a cluster each
   * device's hash may live on another node, so each device is its own call there (grouped per node by
   * auto-pipelining). A failure is logged, not thrown: the cache is best effort.
   */
  async write(values: LatestValues): Promise<void> {
    if (values.size === 0) return;
    const perCall = this.redis.isCluster ? 1 : DEVICES_PER_CALL;
    const calls: Array<Promise<unknown>> = [];
    let args: Array<string | number> = [];
    let triples: Array<string | number> = [];
    let keys = 0;
    const send = () => {
      calls.push(runScript(this.redis, LATEST_IF_NEWER, keys, ...args, ...triples));
      args = [];
      triples = [];
      keys = 0;
    };
    for (const [device, metrics] of values.devices()) {
      args.push(this.key(device));
      triples.push(metrics.size);
      for (const [metric, v] of metrics) {
        const stored: LatestReading = {
          device_id: device,
          metric,
          event_time: v.event_time,
          value: v.value,
          unit: v.unit,
          event_id: v.event_id,
          stored_at: v.stored_at,
        };
        triples.push(metric, v.ms, `${v.ms}|${JSON.stringify(stored)}`);
      }
      if (++keys === perCall) send();
    }
    if (keys) send();
    try {
      await Promise.all(calls);
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
