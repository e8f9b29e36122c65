import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { MissingDependencyError, ServerStartError } from './errors.js';
import { ensureRedisServer, findOnPath, type Progress } from './packages.js';
import { freePort } from './ports.js';
import { RedisServer, type RedisServerOptions } from './redis-server.js';
import { until } from './until.js';

const run = promisify(execFile);

export interface RedisClusterOptions {
  /** Primaries (each serves a share of the 16384 slots). Default 3, Redis' minimum. */
  masters?: number;
  /** Replicas per primary (a replica takes over when its primary dies). Default 1. */
  replicasPerMaster?: number;
  /** How long a node may be unreachable before the cluster calls it failed (ms). Default 1000 (fast tests). */
  nodeTimeoutMs?: number;
  /** AOF on every node. Default true. */
  appendOnly?: boolean;
  /**
   * Every node serves TLS only with this certificate (clients, the cluster bus and replication alike); `url`
   * becomes `rediss-cluster://`, and redis-cli is given the CA.
   */
  tls?: RedisServerOptions['tls'];
  /** More redis-server arguments for every node (e.g. ACL users). */
  extraArgs?: string[];
  progress?: Progress;
}

/**
 * A Redis Cluster on loopback: `masters × (1 + replicasPerMaster)` redis-servers with `cluster-enabled yes`, each
 * with a throwaway data dir and its cluster bus on a port of its own, joined by `redis-cli --cluster create`.
 * start() returns once every node reports `cluster_state:ok` and every replica is in sync with its primary.
 */
export class RedisCluster {
  private constructor(
    readonly nodes: RedisServer[],
    private readonly cli: string,
    /** redis-cli's connection arguments (TLS). */
    private readonly cliArgs: string[],
  ) {}

  /** The `REDIS_URL` of the cluster: every node as a seed. */
  get url(): string {
    const scheme = this.cliArgs.length ? 'rediss-cluster' : 'redis-cluster';
    return `${scheme}://${this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
  }

  static async start(opts: RedisClusterOptions = {}): Promise<RedisCluster> {
    ensureRedisServer(opts.progress);
    const cli = findOnPath('redis-cli');
    if (!cli) throw new MissingDependencyError('redis-cli not found', 'run: apt-get install -y redis-tools');
    const count = (opts.masters ?? 3) * (1 + (opts.replicasPerMaster ?? 1));
    const nodes: RedisServer[] = [];
    const cliArgs = opts.tls ? ['--tls', '--cacert', opts.tls.caFile] : [];
    const cluster = new RedisCluster(nodes, cli, cliArgs);
    try {
      for (let i = 0; i < count; i++) {
        nodes.push(
          await RedisServer.start({
            appendOnly: opts.appendOnly ?? true,
            extraArgs: [
              ...['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'],
              ...['--cluster-node-timeout', String(opts.nodeTimeoutMs ?? 1000)],
              // The bus defaults to port + 10000, which may be taken or beyond 65535 for an ephemeral port.
              ...['--cluster-port', String(await freePort())],
              ...['--cluster-replica-validity-factor', '0'],
              ...(opts.tls ? ['--tls-cluster', 'yes', '--tls-replication', 'yes'] : []),
              ...(opts.extraArgs ?? []),
            ],
            ...(opts.tls ? { tls: opts.tls } : {}),
            ...(opts.progress ? { progress: opts.progress } : {}),
          }),
        );
      }
      const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
      const replicas = String(opts.replicasPerMaster ?? 1);
      await run(
        cli,
        [...cliArgs, '--cluster', 'create', ...addresses, '--cluster-replicas', replicas, '--cluster-yes'],
        {
          timeout: 30_000,
        },
      ).catch((err: Error & { stdout?: string }) => {
        throw new ServerStartError(`redis-cli --cluster create: ${err.message}`, err.stdout ?? '');
      });
      await until('every cluster node reports cluster_state:ok', () => cluster.allOk(), 30_000, 100);
      await until('every replica is in sync', () => cluster.replicasInSync(), 30_000, 100);
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  /** One command to one node through redis-cli (no client library needed here). */
  async command(node: RedisServer, ...args: string[]): Promise<string> {
    const { stdout } = await run(this.cli, [...this.cliArgs, '-p', String(node.port), ...args], { timeout: 5000 });
    return stdout;
  }

  /**
   * The node currently serving `key`'s slot as primary. Each live node is asked in turn for its view of the
   * cluster; during a failover a node may not know the new primary yet, so this waits (up to `timeoutMs`) for a
   * node that does.
   */
  async primaryFor(key: string, timeoutMs = 10_000): Promise<RedisServer> {
    let found: RedisServer | undefined;
    let slot = -1;
    await until(
      `a node names the primary of the slot of "${key}"`,
      async () => {
        for (const n of this.nodes) {
          const answer = slot < 0 ? await this.answer(n, 'CLUSTER', 'KEYSLOT', key) : String(slot);
          if (answer === null) continue;
          slot = Number(answer);
          found = this.primaryInView((await this.answer(n, 'CLUSTER', 'NODES')) ?? '', slot);
          if (found) return true;
        }
        return false;
      },
      timeoutMs,
      100,
    );
    return found!;
  }

  /** In one node's CLUSTER NODES table: the healthy primary whose ranges hold `slot`. */
  private primaryInView(table: string, slot: number): RedisServer | undefined {
    for (const line of table.split('\n')) {
      const [, address = '', flags = '', , , , , , ...ranges] = line.split(' ');
      if (!flags.includes('master') || flags.includes('fail')) continue;
      const serves = ranges.some((r) => {
        const [from, to = from] = r.split('-').map(Number);
        return slot >= from! && slot <= to!;
      });
      const port = Number(address.split('@')[0]!.split(':')[1]);
      const node = serves ? this.nodes.find((n) => n.port === port) : undefined;
      if (node) return node;
    }
    return undefined;
  }

  /** A node's reply, or null when it does not answer (killed by a test). */
  private answer(node: RedisServer, ...args: string[]): Promise<string | null> {
    return this.command(node, ...args).catch(() => null);
  }

  /** Every node that answers reports the cluster healthy. */
  private async allOk(): Promise<boolean> {
    for (const n of this.nodes) {
      const info = await this.answer(n, 'CLUSTER', 'INFO');
      if (info !== null && !info.includes('cluster_state:ok')) return false;
    }
    return true;
  }

  /** Every replica that answers has its link to its primary up. */
  private async replicasInSync(): Promise<boolean> {
    for (const n of this.nodes) {
      const info = await this.answer(n, 'INFO', 'replication');
      if (info?.includes('role:slave') && !info.includes('master_link_status:up')) return false;
    }
    return true;
  }

  /**
   * Waits until every replica of `primary` has acknowledged everything it has written so far (replication is
   * asynchronous: a primary killed before this loses what its replicas had not received yet).
   */
  async waitReplicated(primary: RedisServer, timeoutMs = 15_000): Promise<void> {
    await until(
      `the replicas of :${primary.port} have caught up`,
      async () => {
        const info = await this.command(primary, 'INFO', 'replication');
        const offset = /master_repl_offset:(\d+)/.exec(info)?.[1];
        const replicas = [...info.matchAll(/^slave\d+:.*offset=(\d+)/gm)].map((m) => m[1]);
        return replicas.length > 0 && replicas.every((o) => o === offset);
      },
      timeoutMs,
      50,
    );
  }

  /** Stops every node and removes their data. Idempotent. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}
