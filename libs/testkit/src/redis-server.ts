import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureRedisServer, type Progress } from './packages.js';
import { freePort } from './ports.js';
import { ServerProcess, waitUntil } from './server-process.js';
import { ServerStartError } from './errors.js';

export interface RedisServerOptions {
  /** Port on 127.0.0.1; default: a free one. */
  port?: number;
  /** Data dir; default: a throwaway temp dir, removed on stop(). */
  dataDir?: string;
  /** Turn on the append-only file (`appendfsync everysec`). Default false (tests start empty). */
  appendOnly?: boolean;
  /** e.g. '2mb', with `maxmemory-policy noeviction`. */
  maxMemory?: string;
  /**
   * Serve TLS only (`--tls-port`, the plain port off) with this certificate and key; clients are not asked for
   * certificates. `url` becomes `rediss://`.
   */
  tls?: { certFile: string; keyFile: string; caFile: string };
  extraArgs?: string[];
  progress?: Progress;
  startTimeoutMs?: number;
}

/** A redis-server of our own on loopback. */
export class RedisServer {
  private proc: ServerProcess | undefined;
  /** The primary this server replicates from when started again (`resume({ replicaOf })`), instead of its options'. */
  private replicaOf: number | undefined;
  private constructor(
    readonly port: number,
    readonly dataDir: string,
    private readonly throwaway: boolean,
    private readonly binary: string,
    private readonly opts: RedisServerOptions,
  ) {}

  get url(): string {
    return `${this.opts.tls ? 'rediss' : 'redis'}://127.0.0.1:${this.port}`;
  }
  get pid(): number | undefined {
    return this.proc?.pid;
  }
  /** The last lines the server printed (its log goes to stdout). */
  get log(): string {
    return this.proc?.log ?? '';
  }

  static async start(opts: RedisServerOptions = {}): Promise<RedisServer> {
    const binary = ensureRedisServer(opts.progress);
    const throwaway = !opts.dataDir;
    const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'th-redis-'));
    mkdirSync(dataDir, { recursive: true });
    // A fixed port is the caller's choice; a free port may be taken between probe and bind, so try a few.
    for (let attempt = 0; ; attempt++) {
      const port = opts.port ?? (await freePort());
      const server = new RedisServer(port, dataDir, throwaway, binary, opts);
      try {
        await server.launch();
        return server;
      } catch (err) {
        if (opts.port !== undefined || attempt >= 4 || !/Address already in use/i.test(String(err))) throw err;
      }
    }
  }

  private args(): string[] {
    const tls = this.opts.tls;
    const ports = tls
      ? ['--port', '0', '--tls-port', String(this.port), '--tls-auth-clients', 'no'].concat([
          '--tls-cert-file',
          tls.certFile,
          '--tls-key-file',
          tls.keyFile,
          '--tls-ca-cert-file',
          tls.caFile,
        ])
      : ['--port', String(this.port)];
    const a = [
      ...ports,
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dataDir,
      '--save',
      '',
      '--appendonly',
      this.opts.appendOnly ? 'yes' : 'no',
      '--appendfsync',
      'everysec',
      '--daemonize',
      'no',
      '--logfile',
      '',
      '--protected-mode',
      'yes',
    ];
    if (this.opts.maxMemory) a.push('--maxmemory', this.opts.maxMemory, '--maxmemory-policy', 'noeviction');
    const extra = this.opts.extraArgs ?? [];
    if (this.replicaOf === undefined) return a.concat(extra);
    return a.concat(withoutReplicaOf(extra), ['--replicaof', '127.0.0.1', String(this.replicaOf)]);
  }

  private async launch(): Promise<void> {
    const proc = new ServerProcess(this.binary, this.args(), { parentDeathSignal: 'SIGTERM' });
    this.proc = proc;
    try {
      await waitUntil(
        () => ping(this.port, 500, this.opts.tls?.caFile),
        proc,
        this.opts.startTimeoutMs ?? 15_000,
        'redis-server',
      );
    } catch (err) {
      await proc.stop('SIGKILL', 1000);
      throw new ServerStartError(`redis-server on port ${this.port}: ${(err as Error).message}`, proc.log);
    }
  }

  /** Sends a signal to the server (SIGKILL to simulate a crash, SIGSTOP to freeze it). */
  signal(sig: NodeJS.Signals): void {
    this.proc?.signal(sig);
  }

  /** Stops the server (SIGTERM: with AOF on, everything acknowledged is on disk) and keeps its port and data. */
  async pause(): Promise<void> {
    await this.proc?.stop('SIGTERM');
  }

  /**
   * Starts a paused (or killed) server again on the same port and data dir. `replicaOf`: as a replica of the
   * primary on that port — as a deployment starts a returning Redis once its Sentinel names the current primary.
   */
  async resume(opts: { replicaOf?: number } = {}): Promise<void> {
    if (opts.replicaOf !== undefined) this.replicaOf = opts.replicaOf;
    await this.launch();
  }

  /**
   * Stops and starts again on the same port and data dir (AOF replays if it is on). `SIGKILL`: a crash — no
   * shutdown, so only what the server had written to its append-only file comes back.
   */
  async restart(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    await this.proc?.stop(signal);
    await this.launch();
  }

  /** Stops the server; removes a throwaway data dir. Idempotent. */
  async stop(): Promise<void> {
    await this.proc?.stop('SIGTERM');
    if (this.throwaway) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/**
 * One raw PING over TCP (over TLS, trusting `caFile`, when given): no client library needed to tell that the
 * server is up. A server that wants a password first (`-NOAUTH`) is up too.
 */
export function ping(port: number, timeoutMs = 500, caFile?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = caFile
      ? tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(caFile) })
      : connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on(caFile ? 'secureConnect' : 'connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => done(/^(\+PONG|-NOAUTH)/.test(d.toString())));
  });
}

/** The flags without a `--replicaof <host> <port>` (a later one names the primary instead). */
function withoutReplicaOf(args: readonly string[]): string[] {
  const i = args.indexOf('--replicaof');
  return i < 0 ? [...args] : [...args.slice(0, i), ...args.slice(i + 3)];
}
