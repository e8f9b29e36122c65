import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ensurePostgresBinDir, type Progress } from './packages.js';
import { freePort } from './ports.js';
import { childPids } from './processes.js';
import { ServerProcess, waitUntil } from './server-process.js';
import { MissingDependencyError, ServerStartError } from './errors.js';

export interface PostgresServerOptions {
  /** Port on 127.0.0.1; default: a free one. */
  port?: number;
  /** Cluster dir; default: a throwaway temp dir, removed on stop(). Initialised with initdb when empty. */
  dataDir?: string;
  /** Database created for the app (default `telemetry`). */
  database?: string;
  /** fsync and synchronous commit on. Default false: throwaway test clusters trade durability for speed. */
  durable?: boolean;
  progress?: Progress;
  startTimeoutMs?: number;
}

interface OsUser {
  uid: number;
  gid: number;
  name: string;
}

/** initdb and postgres refuse to run as root; as root we run them as Debian's `postgres` user. */
function serverUser(): OsUser | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) {
    throw new MissingDependencyError(
      'running as root, and PostgreSQL refuses root, but there is no `postgres` user to run it as',
      'run: apt-get install -y postgresql (it creates the user), or start as a non-root user',
    );
  }
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid), name: 'postgres' };
}

/** A PostgreSQL cluster of our own on loopback (TCP only, trust auth: it never listens beyond 127.0.0.1). */
export class PostgresServer {
  private proc: ServerProcess | undefined;
  private constructor(
    readonly port: number,
    readonly dataDir: string,
    readonly database: string,
    private readonly throwaway: boolean,
    private readonly binDir: string,
    private readonly user: OsUser | undefined,
    private readonly opts: PostgresServerOptions,
  ) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${this.database}`;
  }
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  static async start(opts: PostgresServerOptions = {}): Promise<PostgresServer> {
    const binDir = ensurePostgresBinDir(opts.progress);
    const user = serverUser();
    const throwaway = !opts.dataDir;
    const dataDir = opts.dataDir ?? throwawayDir();
    initCluster(binDir, dataDir, user, opts);
    for (let attempt = 0; ; attempt++) {
      const port = opts.port ?? (await freePort());
      const server = new PostgresServer(port, dataDir, opts.database ?? 'telemetry', throwaway, binDir, user, opts);
      try {
        await server.launch();
        await server.createDatabase();
        return server;
      } catch (err) {
        if (opts.port !== undefined || attempt >= 4 || !/already in use/i.test(String(err))) throw err;
      }
    }
  }

  private async launch(): Promise<void> {
    const settings: Record<string, string> = {
      port: String(this.port),
      listen_addresses: '127.0.0.1',
      unix_socket_directories: '',
      max_connections: '100',
    };
    if (!this.opts.durable)
      Object.assign(settings, { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' });
    const args = ['-D', this.dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
    const proc = new ServerProcess(join(this.binDir, 'postgres'), args, {
      parentDeathSignal: 'SIGINT', // fast shutdown
      ...(this.user ? { user: this.user } : {}),
    });
    this.proc = proc;
    try {
      await waitUntil(() => this.canConnect(), proc, this.opts.startTimeoutMs ?? 30_000, 'postgres');
    } catch (err) {
      await proc.stop('SIGQUIT', 2000);
      throw new ServerStartError(`postgres on port ${this.port}: ${(err as Error).message}`, proc.log);
    }
  }

  /** A client of the `postgres` maintenance database (the app database may not exist yet). */
  private adminClient(connectionTimeoutMillis: number): pg.Client {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: this.port,
      user: 'postgres',
      database: 'postgres',
      connectionTimeoutMillis,
    });
    client.on('error', () => {});
    return client;
  }

  private async canConnect(): Promise<boolean> {
    const client = this.adminClient(1000);
    try {
      await client.connect();
      return true;
    } finally {
      await client.end().catch(() => {});
    }
  }

  private async createDatabase(): Promise<void> {
    const client = this.adminClient(5000);
    await client.connect();
    try {
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [this.database]);
      if (!rowCount) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(this.database)}`);
    } finally {
      await client.end();
    }
  }

  /** Sends a signal to the postmaster (SIGKILL to simulate a crash, SIGSTOP to freeze it). */
  signal(sig: NodeJS.Signals): void {
    this.proc?.signal(sig);
  }

  /** Fast shutdown (clients disconnected, then a clean checkpoint). Keeps the data dir. */
  async halt(): Promise<void> {
    await this.proc?.stop('SIGINT', 20_000);
  }

  /**
   * A crash: SIGKILLs one server process (a backend), upon which the postmaster ends every other connection and
   * replays the write-ahead log before it accepts connections again, as after a real crash. Resolves once it does.
   * Needs at least one connection open (a backend to kill).
   */
  async crash(timeoutMs = 30_000): Promise<void> {
    const pid = this.proc?.pid;
    const backend = pid === undefined ? undefined : childPids(pid).find((child) => isBackend(child));
    if (backend === undefined) throw new Error('postgres: no backend process to kill (open a connection first)');
    process.kill(backend, 'SIGKILL');
    const deadline = Date.now() + timeoutMs;
    // The postmaster notices the death asynchronously: give it a moment before probing, or the probe may connect
    // to the server it is about to reset.
    await new Promise((r) => setTimeout(r, 200));
    while (!(await this.canConnect().catch(() => false))) {
      if (Date.now() > deadline) throw new Error(`postgres: not accepting connections ${timeoutMs} ms after a crash`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Starts again on the same port and cluster after halt(). */
  async resume(): Promise<void> {
    await this.launch();
  }

  /** Stops the server; removes a throwaway cluster. Idempotent. */
  async stop(): Promise<void> {
    await this.halt();
    if (this.throwaway) rmSync(join(this.dataDir, '..'), { recursive: true, force: true });
  }
}

/** A client backend (`postgres: <user> <db> <host> …`), not a background process (checkpointer, WAL writer, …). */
function isBackend(pid: number): boolean {
  try {
    return / \d+\.\d+\.\d+\.\d+\(\d+\)/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '));
  } catch {
    return false;
  }
}

/** mkdtemp makes a 0700 dir; the postgres user must be able to pass through it to its cluster dir. */
function throwawayDir(): string {
  const parent = mkdtempSync(join(tmpdir(), 'th-pg-'));
  chmodSync(parent, 0o711);
  return join(parent, 'cluster');
}

function initCluster(binDir: string, dataDir: string, user: OsUser | undefined, opts: PostgresServerOptions): void {
  if (existsSync(join(dataDir, 'PG_VERSION'))) return;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (user) chownSync(dataDir, user.uid, user.gid);
  opts.progress?.(`initialising a PostgreSQL cluster in ${dataDir} …`);
  const args = ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8'];
  if (!opts.durable) args.push('--no-sync');
  const r = spawnSync(join(binDir, 'initdb'), args, {
    encoding: 'utf8',
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
    env: { ...process.env, LC_ALL: 'C.UTF-8' },
  });
  if (r.status !== 0) {
    const hint = user
      ? `the postgres user must be able to reach ${dataDir} (every parent dir needs o+x)`
      : 'check that the directory is writable';
    throw new ServerStartError(`initdb failed for ${dataDir} (${hint})`, `${r.stdout}\n${r.stderr}`.slice(-4000));
  }
}
