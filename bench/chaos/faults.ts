import { sleep } from '@telemetryhub/service-kit';
import { scrapeMetric } from '../../scripts/local-pipeline.js';
import type { LinkMode } from '@telemetryhub/testkit';
import type { ChaosCluster, ChaosTopology } from './cluster.js';

/** A fault: `inject` breaks something and puts it back (a restart, a resume); recovery is timed from its end. */
export interface Fault {
  name: string;
  /** Cheap enough for `--quick` (seconds, not minutes). */
  quick: boolean;
  /** Whether this machine can inject it (default: yes). */
  possible?: (c: ChaosCluster) => boolean;
  inject(c: ChaosCluster): Promise<void>;
}

async function killProcessor(c: ChaosCluster, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  await c.samplePeaks();
  await c.processor.stop(signal, 30_000);
  await c.startProcessor();
}

/** The hub's link to Redis (through the cluster's fault proxy) in `mode` for `ms`, then back to normal. */
function linkFault(name: string, mode: LinkMode, quick = false, ms = 10_000): Fault {
  return {
    name,
    quick,
    possible: (c) => c.hubLink !== undefined,
    inject: async (c) => {
      c.hubLink!.set(mode);
      await sleep(ms);
      c.hubLink!.set({ kind: 'pass' });
    },
  };
}

/** PostgreSQL stopped (fast shutdown) for `ms`, then started again on its data. */
function postgresStopped(name: string, ms: number, quick: boolean): Fault {
  return {
    name,
    quick,
    inject: async (c) => {
      await c.stack.postgres.halt();
      await sleep(ms);
      await c.stack.postgres.resume();
    },
  };
}

/**
 * The faults, in the order a run injects them. `--quick` injects the quick ones once; the full run every one, then
 * the quick ones a second time (more than 20 faults: a processor killed mid-batch several times, Redis and
 * PostgreSQL crashed twice).
 */
export const FAULTS: Fault[] = [
  {
    name: 'processor killed (SIGKILL) under load',
    quick: true,
    inject: (c) => killProcessor(c, 'SIGKILL'),
  },
  {
    name: 'processor restarted (SIGTERM: drains, then a new one starts)',
    quick: true,
    inject: (c) => killProcessor(c, 'SIGTERM'),
  },
  postgresStopped('PostgreSQL stopped for 5 s', 5000, true),
  postgresStopped('PostgreSQL stopped for 30 s', 30_000, false),
  {
    name: 'Redis restarted (append-only file, clean shutdown)',
    quick: true,
    inject: (c) => c.stack.redis.restart(),
  },
  {
    name: 'Redis killed (SIGKILL) and restarted from its append-only file',
    quick: true,
    inject: (c) => c.stack.redis.restart('SIGKILL'),
  },
  {
    name: 'PostgreSQL crashed (a backend SIGKILLed: every connection reset, crash recovery)',
    quick: true,
    inject: (c) => c.stack.postgres.crash(),
  },
  {
    name: 'Redis at maxmemory for 10 s (writes refused: out of memory)',
    quick: false,
    inject: async (c) => {
      const redis = c.adminRedis();
      try {
        // Below what Redis already uses: with `noeviction` every write that could grow memory is refused (OOM)
        // while deletes (the processor's acks) still go through — a queue that was let fill up.
        const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
        await redis.config('SET', 'maxmemory', String(Math.max(1, Math.floor(used / 2))));
        await sleep(10_000);
        await redis.config('SET', 'maxmemory', '0');
      } finally {
        redis.disconnect();
      }
    },
  },
  {
    name: 'hub killed (SIGKILL) while producers are being answered',
    quick: true,
    inject: async (c) => {
      await c.samplePeaks();
      await c.hub.stop('SIGKILL', 10_000);
      await c.startHub();
    },
  },
  linkFault('hub cut off from Redis for 10 s (connections reset, new ones refused)', { kind: 'reset' }, true),
  {
    name: 'hub killed (SIGKILL) while its spool holds readings (cut off from Redis); restarted, then the link back',
    quick: true,
    possible: (c) => c.hubLink !== undefined,
    inject: async (c) => {
      c.hubLink!.set({ kind: 'reset' });
      const spooled = () => scrapeMetric(c.hubUrl, 'telemetryhub_hub_spool_records').catch(() => 0);
      const deadline = Date.now() + 20_000;
      while ((await spooled()) === 0 && Date.now() < deadline) await sleep(200);
      await c.samplePeaks();
      await c.hub.stop('SIGKILL', 10_000);
      // The new hub finds the spool on disk; with a spool it is ready without Redis, and replays once Redis is back.
      await c.startHub();
      await sleep(2000);
      c.hubLink!.set({ kind: 'pass' });
    },
  },
  linkFault('hub cut off from Redis for 60 s', { kind: 'reset' }, false, 60_000),
  {
    name: 'disk full under the hub’s spool (cut off from Redis until its 4 MiB disk fills, then 5 s more)',
    quick: false,
    possible: (c) => c.spoolDisk && c.hubLink !== undefined,
    inject: async (c) => {
      c.hubLink!.set({ kind: 'reset' });
      const deadline = Date.now() + 60_000;
      while (c.spoolDiskUse() < 0.99 && Date.now() < deadline) await sleep(250);
      await sleep(5000);
      c.hubLink!.set({ kind: 'pass' });
    },
  },
  linkFault('hub to Redis link silent for 10 s (half-open: nothing answers, nothing closes)', { kind: 'blackhole' }),
  linkFault('hub to Redis link slowed to 200 ms each way for 10 s', { kind: 'delay', delayMs: 200 }),
  {
    name: 'processor frozen (SIGSTOP) past its lease, then resumed',
    quick: false,
    inject: async (c) => {
      c.processor.signal('SIGSTOP');
      await sleep(8000);
      c.processor.signal('SIGCONT');
    },
  },
];

/**
 * A failover part's schedule: the failover three times, with a processor and a hub killed between, so that each
 * app also restarts against a promoted primary.
 */
function failoverSchedule(failover: Fault): Fault[] {
  return [
    failover,
    { ...FAULTS[0]!, quick: true },
    { ...failover, name: `${failover.name} (back)` },
    FAULTS.find((f) => f.name.startsWith('hub killed'))!,
    { ...failover, name: `${failover.name} (a third time)` },
  ];
}

/** Redis behind a Sentinel: the primary killed, the replica promoted, the old primary back as its replica. */
export const FAILOVER_FAULTS = failoverSchedule({
  name: 'Redis primary killed (SIGKILL): Sentinel promotes the replica; the old primary rejoins as a replica',
  quick: true,
  inject: (c) => c.failover(),
});

/** A Redis Cluster: the primary holding the queue killed, its replica promoted, the old one back as a replica. */
export const CLUSTER_FAULTS = failoverSchedule({
  name: 'Redis Cluster primary holding the queue killed (SIGKILL): its replica takes over; the old one rejoins',
  quick: true,
  inject: (c) => c.clusterFailover(),
});

/** What a run injects, in order; names are unique (a fault injected twice is named so). */
export function faultSchedule(quick: boolean, topology: ChaosTopology = 'single'): Fault[] {
  // Quick: two failovers with a processor killed between them (what `npm test` can afford), else all five.
  if (topology === 'sentinel') return quick ? FAILOVER_FAULTS.slice(0, 3) : FAILOVER_FAULTS;
  if (topology === 'cluster') return quick ? CLUSTER_FAULTS.slice(0, 3) : CLUSTER_FAULTS;
  const cheap = FAULTS.filter((f) => f.quick);
  return quick ? cheap : [...FAULTS, ...cheap.map((f) => ({ ...f, name: `${f.name}, again` }))];
}
