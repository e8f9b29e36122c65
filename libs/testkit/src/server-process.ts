import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { findOnPath } from './packages.js';

export interface ServerProcessOptions {
  /** Run as this uid/gid (PostgreSQL refuses to run as root). */
  user?: { uid: number; gid: number; name: string };
  /** Signal the kernel sends the server if this Node process dies, so a crashed test leaves nothing behind. */
  parentDeathSignal: NodeJS.Signals;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Also append everything the server prints to this file. */
  logFile?: string;
}

/**
 * A server started as a child process, with the tail of its output kept for error messages. It runs under
 * `setpriv --pdeathsig` when setpriv exists (util-linux), so even a SIGKILLed parent takes the server with it.
 */
export class ServerProcess {
  private readonly child: ChildProcess;
  private output = '';
  private exited = false;
  readonly exitPromise: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(command: string, args: string[], opts: ServerProcessOptions) {
    const setpriv = findOnPath('setpriv');
    let file = command;
    let argv = args;
    if (setpriv) {
      const creds = opts.user
        ? ['--reuid', String(opts.user.uid), '--regid', String(opts.user.gid), '--init-groups']
        : [];
      file = setpriv;
      // pdeathsig last: it is cleared when credentials change, so setpriv must set it after --reuid.
      argv = [...creds, '--pdeathsig', opts.parentDeathSignal, '--', command, ...args];
    }
    this.child = spawn(file, argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group: a terminal's Ctrl-C reaches only our parent, which stops servers in the right order
      // (apps drain into Redis/PostgreSQL before those stop). pdeathsig still covers a parent that dies.
      detached: true,
      env: opts.env ?? process.env,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      // Without setpriv, Node switches credentials itself.
      ...(!setpriv && opts.user ? { uid: opts.user.uid, gid: opts.user.gid } : {}),
    });
    const logStream = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : undefined;
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-8000);
      logStream?.write(chunk);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exitPromise = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        logStream?.end();
        this.exited = true;
        resolve({ code, signal });
      });
      this.child.on('error', (err) => {
        keep(Buffer.from(String(err)));
        this.exited = true;
        resolve({ code: -1, signal: null });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
  get hasExited(): boolean {
    return this.exited;
  }
  get log(): string {
    return this.output;
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.exited) this.child.kill(sig);
  }

  /** Sends `sig`, waits up to `timeoutMs`, then SIGKILL. Idempotent. */
  async stop(sig: NodeJS.Signals, timeoutMs = 10_000): Promise<void> {
    if (this.exited) return;
    this.child.kill(sig);
    const timer = new Promise<'timeout'>((r) => setTimeout(r, timeoutMs, 'timeout').unref());
    if ((await Promise.race([this.exitPromise, timer])) === 'timeout') {
      this.child.kill('SIGKILL');
      await this.exitPromise;
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it resolves true, the server exits, or the deadline passes. */
export async function waitUntil(
  check: () => Promise<boolean>,
  server: ServerProcess,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (server.hasExited) throw new Error(`${what} exited during start-up`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs} ms`);
    await sleep(50);
  }
}
