import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  RedisCluster,
  RedisSentinel,
  RedisServer,
  TcpFaultProxy,
  freePort,
  startStack,
  until,
  type LocalStack,
  type ServerProcess,
} from '@telemetryhub/testkit';
import { appEnv, startAppProcess, waitReady } from '../../scripts/local-pipeline.js';
import { processMemoryMiB } from '../process-stats.js';
import { createRedis, type RedisClient } from '@telemetryhub/queue';

/**
 * The whole stack as `npm start` runs it — durable PostgreSQL, Redis with its append-only file, the hub with a
 * spool — with the handles a fault needs: restart an app, reach Redis and PostgreSQL, break the hub's link to Redis
 * (the hub reaches Redis through a TcpFaultProxy), and the peak memory of every process (each app's peak over all
 * its incarnations). With `failover`, Redis is a primary and a replica behind a Sentinel, every client connects
 * through the Sentinel (as a production deployment does), and there is no link to break. With `cluster`, Redis is
 * a Cluster of three primaries with a replica each, and the queue `{tasks}` lives on one of them.
 */
export class ChaosCluster {
  processor!: ServerProcess;
  hub!: ServerProcess;
  readonly peakMiB: Record<string, number> = {};

  private constructor(
    readonly stack: LocalStack,
    /** The hub's way to Redis through a fault proxy (none behind a Sentinel: clients follow the Sentinel). */
    readonly hubLink: TcpFaultProxy | undefined,
    /** A replica and the Sentinel watching both (the failover topology only). */
    readonly sentinel: { replica: RedisServer; sentinel: RedisSentinel } | undefined,
    /** The Redis Cluster the queue lives on (the cluster topology only). */
    readonly redisCluster: RedisCluster | undefined,
    private readonly env: NodeJS.ProcessEnv,
    readonly hubUrl: string,
    readonly processorUrl: string,
    private readonly spoolDir: string,
    readonly logDir: string,
    /** The spool lives on a small disk of its own (a tmpfs, when this process may mount one). */
    readonly spoolDisk: boolean,
  ) {}

  /** How full the spool's disk is (0–1), or NaN without a disk of its own. */
  spoolDiskUse(): number {
    if (!this.spoolDisk) return NaN;
    const s = statfsSync(this.spoolDir);
    return 1 - s.bavail / s.blocks;
  }

  static async start(env: Record<string, string>, opts: { topology?: ChaosTopology } = {}): Promise<ChaosCluster> {
    const topology = opts.topology ?? 'single';
    const stack = await startStack({ redis: { appendOnly: true }, postgres: { durable: true } });
    const spoolDir = mkdtempSync(join(tmpdir(), 'th-chaos-spool-'));
    const spoolDisk = smallDisk(spoolDir, SPOOL_DISK_BYTES);
    const logDir = mkdtempSync(join(tmpdir(), 'th-chaos-logs-'));
    const primaryPort = Number(new URL(stack.redis.url).port);
    const hubLink = topology === 'single' ? await TcpFaultProxy.start({ port: primaryPort }) : undefined;
    const sentinel = topology === 'sentinel' ? await startSentinelGroup(primaryPort) : undefined;
    const redisCluster =
      topology === 'cluster' ? await RedisCluster.start({ masters: 3, replicasPerMaster: 1 }) : undefined;
    const redisUrl = sentinel?.sentinel.url ?? redisCluster?.url ?? stack.redis.url;
    // Ports for the apps once every server is up: a port found free before would be one they could have taken.
    const [hubPort, processorPort] = [await freePort(), await freePort()];
    const cluster = new ChaosCluster(
      stack,
      hubLink,
      sentinel,
      redisCluster,
      {
        ...appEnv(stack, { hubPort, processorPort, spoolDir }),
        REDIS_URL: redisUrl,
        QUEUE_NAME: queueFor(topology),
        ...env,
      },
      `http://127.0.0.1:${hubPort}`,
      `http://127.0.0.1:${processorPort}`,
      spoolDir,
      logDir,
      spoolDisk,
    );
    try {
      await Promise.all([cluster.startProcessor(), cluster.startHub()]);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  async startProcessor(): Promise<void> {
    this.processor = startAppProcess('task-processor', this.env, this.logDir);
    await waitReady(this.processorUrl, this.processor, 'task-processor', 60_000);
  }

  async startHub(): Promise<void> {
    this.hub = startAppProcess(
      'hub',
      this.hubLink ? { ...this.env, REDIS_URL: `redis://127.0.0.1:${this.hubLink.port}` } : this.env,
      this.logDir,
    );
    await waitReady(this.hubUrl, this.hub, 'hub', 60_000);
  }

  /** Where clients reach Redis: the server itself, the Sentinel that knows the current primary, or the Cluster. */
  get redisUrl(): string {
    return this.sentinel?.sentinel.url ?? this.redisCluster?.url ?? this.stack.redis.url;
  }

  /** The queue's name: on a Cluster it carries a hash tag, so that its keys share one slot (one primary). */
  get queue(): string {
    return queueFor(this.redisCluster ? 'cluster' : 'single');
  }

  /**
   * Kills the Cluster primary that holds the queue (SIGKILL), waits until its replica serves the slot, then starts
   * the killed node again on its data: it rejoins as a replica of the promoted one. Returns after it has synced.
   */
  async clusterFailover(): Promise<void> {
    const rc = this.redisCluster;
    if (!rc) throw new Error('no Redis Cluster: start the chaos cluster with { topology: "cluster" }');
    const key = `${this.queue}:pending`;
    const old = await rc.primaryFor(key);
    old.signal('SIGKILL');
    await until('the replica serves the queue’s slot', async () => (await rc.primaryFor(key, 30_000)) !== old, 30_000);
    await old.resume();
    await until(
      'the killed primary is back as a replica, in sync',
      async () => /role:slave[\s\S]*master_link_status:up/.test(await rc.command(old, 'INFO', 'replication')),
      60_000,
    );
  }

  /** A connection of its own to Redis (not through the hub's link), for faults that reconfigure the server. */
  adminRedis(): RedisClient {
    return createRedis(this.redisUrl, { commandTimeoutMs: 5000 });
  }

  /**
   * Kills the current primary (SIGKILL), waits until the Sentinel has promoted the replica, then starts the old
   * primary again on its data as a replica of the new one — as the Redis StatefulSet's start script does, asking
   * the Sentinel for the current primary. Returns after it has synced.
   */
  async failover(): Promise<void> {
    const group = this.sentinel;
    if (!group) throw new Error('no Sentinel: start the cluster with { failover: true }');
    const nodes = [this.stack.redis, group.replica];
    const primaryPort = await this.currentPrimaryPort();
    const old = nodes.find((n) => n.port === primaryPort)!;
    old.signal('SIGKILL');
    let promoted = primaryPort;
    await until(
      'the Sentinel promotes the replica',
      async () => (promoted = await this.currentPrimaryPort()) !== primaryPort,
      30_000,
    );
    // Not started as a primary for the Sentinel to demote: that waits for two of its INFO rounds (every 10 s) to
    // see it as primary for 8 s, and a Sentinel in TILT on a busy machine does not demote at all for 30 s.
    await old.resume({ replicaOf: promoted });
    const replica = createRedis(`redis://127.0.0.1:${old.port}`, { commandTimeoutMs: 2000 });
    try {
      await until(
        'the old primary is back as a replica, in sync',
        async () => /master_link_status:up/.test(await replica.info('replication')),
        90_000,
      );
    } catch (err) {
      const info = await replica.info('replication').catch((e: Error) => e.message);
      const tail = (log: string) => log.split('\n').slice(-25).join('\n');
      throw new Error(
        `${(err as Error).message} (restarted as a replica of port ${promoted})\n` +
          `its INFO replication:\n${info}\nits log:\n${tail(old.log)}\nthe Sentinel's log:\n${tail(group.sentinel.log)}`,
        { cause: err },
      );
    } finally {
      replica.disconnect();
    }
  }

  private async currentPrimaryPort(): Promise<number> {
    const s = createRedis(`redis://127.0.0.1:${this.sentinel!.sentinel.port}`, { commandTimeoutMs: 2000 });
    try {
      const addr = (await s.call('SENTINEL', 'get-master-addr-by-name', 'mymaster')) as [string, string];
      return Number(addr[1]);
    } finally {
      s.disconnect();
    }
  }

  /** Records every process's peak resident memory so far (MiB). */
  async samplePeaks(): Promise<void> {
    const pids: Record<string, number | undefined> = {
      hub: this.hub?.pid,
      'task-processor': this.processor?.pid,
      redis: this.stack.redis.pid,
      ...(this.sentinel ? { 'redis-replica': this.sentinel.replica.pid } : {}),
      ...Object.fromEntries((this.redisCluster?.nodes ?? []).map((n, i) => [`redis-cluster-${i}`, n.pid])),
      postgres: this.stack.postgres.pid,
    };
    for (const [name, pid] of Object.entries(pids)) {
      const { peak } = await processMemoryMiB(pid);
      if (Number.isFinite(peak)) this.peakMiB[name] = Math.max(this.peakMiB[name] ?? 0, Math.round(peak));
    }
  }

  /** Stops the apps (SIGTERM: the hub flushes, the processor drains), then Redis and PostgreSQL; `keepLogs` keeps the apps' logs. */
  async stop(keepLogs = false): Promise<void> {
    await this.hub?.stop('SIGTERM', 30_000).catch(() => {});
    await this.processor?.stop('SIGTERM', 30_000).catch(() => {});
    await this.hubLink?.stop();
    await this.sentinel?.sentinel.stop();
    await this.sentinel?.replica.stop();
    await this.redisCluster?.stop();
    await this.stack.stop();
    if (this.spoolDisk) spawnSync('umount', [this.spoolDir]);
    rmSync(this.spoolDir, { recursive: true, force: true });
    if (!keepLogs) rmSync(this.logDir, { recursive: true, force: true });
  }
}

/** Where Redis runs: one server, a primary and a replica behind a Sentinel, or a Cluster. */
export type ChaosTopology = 'single' | 'sentinel' | 'cluster';

function queueFor(topology: ChaosTopology): string {
  return topology === 'cluster' ? '{tasks}' : 'tasks';
}

/**
 * A replica of the primary (append-only file on, as the primary) and a Sentinel that fails over within a few
 * seconds. Not one: the Sentinel pings once a second, and with `down-after-milliseconds` at 1000 a freshly promoted
 * primary whose first reply comes a moment late on a loaded machine is called down at once — a second failover that
 * promotes the old primary before it has synced, losing what the new one had taken.
 */
async function startSentinelGroup(primaryPort: number): Promise<{ replica: RedisServer; sentinel: RedisSentinel }> {
  const replica = await RedisServer.start({
    appendOnly: true,
    extraArgs: ['--replicaof', '127.0.0.1', String(primaryPort)],
  });
  try {
    // In sync before the run, as the Cluster topology's replicas are: Redis 7 sends a new replica its first copy only
    // after `repl-diskless-sync-delay` (5 s), and a primary killed before then leaves a replica with nothing — the
    // Sentinel promotes it all the same, and whatever the run wrote to Redis before (dead letters) is gone.
    const client = createRedis(`redis://127.0.0.1:${replica.port}`, { commandTimeoutMs: 2000 });
    try {
      await until(
        'the replica is in sync with the primary',
        async () => /master_link_status:up/.test(await client.info('replication')),
        30_000,
      );
    } finally {
      client.disconnect();
    }
    return { replica, sentinel: await RedisSentinel.start(primaryPort, { downAfterMs: 3000 }) };
  } catch (err) {
    await replica.stop();
    throw err;
  }
}

/** The size of the spool's own disk: a few seconds of the producers' rate while the hub is cut off. */
const SPOOL_DISK_BYTES = 4 * 2 ** 20;

/**
 * Mounts a tmpfs of `bytes` at `dir` (root only; false where mounting is not allowed), so that a fault can fill
 * the disk under the hub's spool.
 */
function smallDisk(dir: string, bytes: number): boolean {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return false;
  return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir]).status === 0;
}
