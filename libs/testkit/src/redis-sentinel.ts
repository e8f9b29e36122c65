import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureRedisServer, type Progress } from './packages.js';
import { freePort } from './ports.js';
import { ping, type RedisServerOptions } from './redis-server.js';
import { ServerProcess, waitUntil } from './server-process.js';
import { ServerStartError } from './errors.js';

export interface RedisSentinelOptions {
  /** Name of the monitored primary. Default `mymaster`. */
  masterName?: string;
  /** How long the primary may be silent before the sentinel calls it down (ms). Default 1000 (fast tests). */
  downAfterMs?: number;
  /**
   * Serve TLS only with this certificate, and speak TLS to the servers it watches (`tls-replication`); `url`
   * becomes `rediss-sentinel://`. The servers must serve TLS with a certificate the same CA signed.
   */
  tls?: RedisServerOptions['tls'];
  progress?: Progress;
}

/**
 * A Redis Sentinel (`redis-server <conf> --sentinel`) on loopback watching one primary, with quorum 1 so that a
 * single sentinel can fail over. Its config file lives in a throwaway dir (Sentinel rewrites it as it learns).
 */
export class RedisSentinel {
  private constructor(
    readonly port: number,
    readonly masterName: string,
    private readonly dir: string,
    private readonly proc: ServerProcess,
    private readonly tls: boolean,
  ) {}

  /** The `REDIS_URL` that reaches the primary through this sentinel. */
  get url(): string {
    return `${this.tls ? 'rediss' : 'redis'}-sentinel://127.0.0.1:${this.port}/${this.masterName}`;
  }

  /** The last lines the Sentinel printed (its events: +sdown, +switch-master, +convert-to-slave, …). */
  get log(): string {
    return this.proc.log;
  }

  static async start(masterPort: number, opts: RedisSentinelOptions = {}): Promise<RedisSentinel> {
    const binary = ensureRedisServer(opts.progress);
    const masterName = opts.masterName ?? 'mymaster';
    const dir = mkdtempSync(join(tmpdir(), 'th-sentinel-'));
    const port = await freePort();
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        ...(opts.tls
          ? [
              'port 0',
              `tls-port ${port}`,
              `tls-cert-file ${opts.tls.certFile}`,
              `tls-key-file ${opts.tls.keyFile}`,
              `tls-ca-cert-file ${opts.tls.caFile}`,
              'tls-auth-clients no',
              'tls-replication yes',
            ]
          : [`port ${port}`]),
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 1`,
        `sentinel down-after-milliseconds ${masterName} ${opts.downAfterMs ?? 1000}`,
        `sentinel failover-timeout ${masterName} 10000`,
        `sentinel parallel-syncs ${masterName} 1`,
        '',
      ].join('\n'),
    );
    const proc = new ServerProcess(binary, [conf, '--sentinel'], { parentDeathSignal: 'SIGTERM' });
    try {
      await waitUntil(() => ping(port, 500, opts.tls?.caFile), proc, 15_000, 'redis-sentinel');
    } catch (err) {
      await proc.stop('SIGKILL', 1000);
      rmSync(dir, { recursive: true, force: true });
      throw new ServerStartError(`redis-sentinel on port ${port}: ${(err as Error).message}`, proc.log);
    }
    return new RedisSentinel(port, masterName, dir, proc, !!opts.tls);
  }

  async stop(): Promise<void> {
    await this.proc.stop('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
