import type { QueuedTask } from '../task.js';

/**
 * Sharding one logical queue over several Redis queues, so that a Redis Cluster spreads its load over primaries
 * (one queue = one hash slot = one primary). Shard `i` of queue `tasks` is the queue `{tasks:i}`: its own hash tag,
 * so each shard's keys share a slot (the scripts need that) and different shards hash to different slots.
 */
export function shardQueueNames(queue: string, shards: number): string[] {
  if (!Number.isInteger(shards) || shards < 1)
    throw new RangeError(`shards must be a positive integer (got ${shards})`);
  if (shards === 1) return [queue];
  // A tag already in the name would win over ours (Redis hashes the first {...}) and put every shard in one slot.
  const bare = queue.replace(/[{}]/g, '');
  return Array.from({ length: shards }, (_, i) => `{${bare}:${i}}`);
}

/** The shard of a routing key (a device id): FNV-1a of its UTF-8 bytes, modulo the shard count. Stable. */
export function shardIndex(key: string, shards: number): number {
  if (shards <= 1) return 0;
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % shards;
}

/**
 * What a task is routed by: the device of its first reading (in rows or in columns, or of the payload itself),
 * else its id, else its bytes. The hub builds tasks of one shard's devices only, so routing by the first one keeps
 * each device on one shard; any other producer's task lands on some shard and is consumed all the same.
 */
export function taskRoutingKey(task: QueuedTask): string {
  const envelope = typeof task === 'string' ? parseOrNull(task) : 'json' in task ? parseOrNull(task.json) : task;
  if (!isObject(envelope)) return typeof task === 'string' ? task : 'json' in task ? task.json : '';
  const payload = typeof envelope.payload === 'string' ? parseOrNull(envelope.payload) : envelope.payload;
  const device = firstDevice(payload);
  if (device !== undefined) return device;
  return typeof envelope.id === 'string' ? envelope.id : JSON.stringify(envelope);
}

function firstDevice(payload: unknown): string | undefined {
  if (!isObject(payload)) return undefined;
  if (isObject(payload.columns) && Array.isArray(payload.columns.device_id)) {
    const d: unknown = payload.columns.device_id[0];
    if (typeof d === 'string') return d;
  }
  for (const list of [payload.readings, payload.events, payload.samples]) {
    if (Array.isArray(list) && isObject(list[0])) {
      const d = deviceOf(list[0]);
      if (d !== undefined) return d;
    }
  }
  return deviceOf(payload);
}

function deviceOf(o: Record<string, unknown>): string | undefined {
  const d = o.device_id ?? o.deviceId;
  return typeof d === 'string' || typeof d === 'number' ? String(d) : undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseOrNull(json: string): unknown {
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return null;
  }
}
