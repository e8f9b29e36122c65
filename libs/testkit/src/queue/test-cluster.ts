import { after, before } from 'node:test';
import { RedisCluster } from '../redis-cluster.js';
import type { Disconnectable } from './test-redis.js';

/** How a test connects to the cluster: the code under test's own factory, with short timeouts. */
export type ConnectCluster<C> = (
  url: string,
  opts: { blocking: boolean; commandTimeoutMs: number; connectTimeoutMs: number },
) => C;

/**
 * A throwaway Redis Cluster for one test file (three primaries with a replica each, on loopback), started before
 * its tests and stopped after, with `client()` for connections closed with it. Tests only.
 */
export function useTestCluster<C extends Disconnectable>(
  connect: ConnectCluster<C>,
): { cluster: () => RedisCluster; client: (blocking?: boolean) => C } {
  let cluster: RedisCluster | undefined;
  const clients: C[] = [];
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
      const c = connect(started().url, { blocking, commandTimeoutMs: 1000, connectTimeoutMs: 1000 });
      clients.push(c);
      return c;
    },
  };
}
