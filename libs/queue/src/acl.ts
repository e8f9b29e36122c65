import { queueKeys } from './keys.js';
import { shardQueueNames } from './sharding/shard-routing.js';

/** Who connects to the queue's Redis, each with only what its job needs. */
export const REDIS_ROLES = ['hub', 'processor', 'autoscaler'] as const;
export type RedisRole = (typeof REDIS_ROLES)[number];

/** Connecting, naming the connection and the ready check ioredis and most clients do; nothing that manages others. */
const CONNECT = ['+hello', '+auth', '+ping', '+info', '+client|setname', '+select'];

/**
 * The ACL rules of a role on a `redis-list` queue, in the form `ACL SETUSER <user> on ><password> <rules…>` and an
 * ACL file take them:
 * - `hub`: push only — `LPUSH` (or the bounded-enqueue script, which reads the lane's length) onto the pending
 *   lanes; it cannot read, take or delete a task.
 * - `processor`: the queue's own keys (take, lease, ack, retry, dead-letter, stats) and the latest-value hashes.
 * - `autoscaler` (KEDA's Redis scaler): the pending lanes' lengths, read-only.
 * Sharded queues (`shards` > 1) cover every shard's keys. Scripts run with their caller's rights: a script cannot
 * reach a key or a command its user could not.
 */
export function redisRoleRules(
  role: RedisRole,
  queue: string,
  opts: { shards?: number; latestPrefix?: string } = {},
): string[] {
  const names = shardQueueNames(queue, opts.shards ?? 1);
  const lanes = names.flatMap((q) => [queueKeys(q).pending, queueKeys(q).pendingHigh]);
  switch (role) {
    case 'hub':
      return [
        'resetkeys',
        ...lanes.map((k) => `~${k}`),
        'resetchannels',
        '-@all',
        ...CONNECT,
        '+lpush',
        '+llen',
        '+eval',
        '+evalsha',
        '+script|load',
      ];
    case 'processor':
      return [
        'resetkeys',
        ...names.map((q) => `~${q}:*`),
        `~${opts.latestPrefix ?? 'telemetry'}:latest:*`,
        'resetchannels',
        '-@all',
        ...CONNECT,
        '+@list',
        '+@sortedset',
        '+@hash',
        '+@scripting',
        '+del',
        '+exists',
        '+type',
        '+scan',
      ];
    case 'autoscaler':
      return ['resetkeys', ...lanes.map((k) => `%R~${k}`), 'resetchannels', '-@all', ...CONNECT, '+llen'];
  }
}
