import { sleep } from '@telemetryhub/service-kit';
import type { LinkMode } from '@telemetryhub/testkit';
import type { ChaosCluster } from './cluster.js';

/** A fault: `inject` breaks something and puts it back (a restart, a resume); recovery is timed from its end. */
export interface Fault {
  name: string;
  /** Cheap enough for `--quick` (seconds, not minutes). */
  quick: boolean;
  inject(c: ChaosCluster): Promise<void>;
}

async function killProcessor(c: ChaosCluster, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  await c.samplePeaks();
  await c.processor.stop(signal, 30_000);
  await c.startProcessor();
}

/** The hub's link to Redis (through the cluster's fault proxy) in `mode` for 10 s, then back to normal. */
function linkFault(name: string, mode: LinkMode, quick = false): Fault {
  return {
    name,
    quick,
    inject: async (c) => {
      c.hubLink.set(mode);
      await sleep(10_000);
      c.hubLink.set({ kind: 'pass' });
    },
  };
}

/** The faults, in the order a run injects them. */
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
  {
    name: 'PostgreSQL stopped for 5 s',
    quick: true,
    inject: async (c) => {
      await c.stack.postgres.halt();
      await sleep(5000);
      await c.stack.postgres.resume();
    },
  },
  {
    name: 'Redis restarted (append-only file, clean shutdown)',
    quick: true,
    inject: (c) => c.stack.redis.restart(),
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
