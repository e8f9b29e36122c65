import { after, before } from 'node:test';
import { RedisCluster } from '@telemetryhub/devstack';
import { createRedis, type RedisClient } from './redis-connection.js';

/**
 * A throwaway Redis Cluster for one test file (three primaries with a replica each, on loopback), started before
 * its tests and stopped after, with `client()` for connections closed with it. Tests only.
 */
export function useTestCluster(): { cluster: () => RedisCluster; client: (blocking?: boolean) => RedisClient } {
  let cluster: RedisCluster | undefined;
  const clients: RedisClient[] = [];
  before(async () => {
    cluster = await RedisCluster.start({ masters: 3, replicasPerMaster: 1 });
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await cluster?.stop();
  });
  const started = () => {
    if (!cluster) throw new Error('the test cluster is not started yet (use it inside a test)');
    return cluster;
  };
  return {
    cluster: started,
    client: (blocking = false) => {
      const c = createRedis(started().url, { blocking, commandTimeoutMs: 1000, connectTimeoutMs: 1000 });
      clients.push(c);
      return c;
    },
  };
}
