import type { Logger } from 'pino';
import { briefError } from '@telemetryhub/service-kit';
import { type Reading } from '@telemetryhub/schemas';
import { runScript, type RedisClient } from '@telemetryhub/queue';
import type { LatestReading } from './raw.repo.js';

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

  /**
   * Writes the newest reading of each device and metric among `readings` (`eventMs`: their event times in ms, in
   * order, when the caller has them). Only the batch's newest per series is
   * sent (a batch often holds several readings of one series), in one script call per DEVICES_PER_CALL devices,
   * by SHA, all sent together: one round trip on a single server. On a cluster each device's hash may live on
   * another node, so each device is its own call there (grouped per node by auto-pipelining).
   */
  async update(
    readings: readonly Reading[],
    eventMs: readonly number[] = readings.map((r) => Date.parse(r.event_time)),
    storedAt = new Date(),
  ): Promise<void> {
    const newest = new Map<string, { r: Reading; ms: number }>();
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i]!;
      const ms = eventMs[i]!;
      const series = `${r.device_id}\u0000${r.metric}`;
      const seen = newest.get(series);
      if (!seen) newest.set(series, { r, ms });
      else if (ms > seen.ms) {
        seen.r = r;
        seen.ms = ms;
      }
    }
    if (newest.size === 0) return;
    const at = storedAt.toISOString();
    const byDevice = new Map<string, Array<string | number>>();
    for (const { r, ms } of newest.values()) {
      const value: LatestReading = {
        device_id: r.device_id,
        metric: r.metric,
        event_time: r.event_time,
        value: r.value,
        unit: r.unit,
        event_id: r.event_id,
        stored_at: at,
      };
      const triples = byDevice.get(r.device_id) ?? [];
      if (triples.length === 0) byDevice.set(r.device_id, triples);
      triples.push(r.metric, ms, `${ms}|${JSON.stringify(value)}`);
    }
    const devices = [...byDevice];
    const perCall = this.redis.isCluster ? 1 : DEVICES_PER_CALL;
    const calls: Array<Promise<unknown>> = [];
    for (let i = 0; i < devices.length; i += perCall) {
      const slice = devices.slice(i, i + perCall);
      const args: Array<string | number> = slice.map(([device]) => this.key(device));
      for (const [, triples] of slice) args.push(triples.length / 3, ...triples);
      calls.push(runScript(this.redis, LATEST_IF_NEWER, slice.length, ...args));
    }
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
