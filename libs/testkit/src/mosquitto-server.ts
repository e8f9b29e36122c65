import { connect } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureMosquitto, type Progress } from './packages.js';
import { freePort } from './ports.js';
import { ServerProcess, waitUntil } from './server-process.js';
import { ServerStartError } from './errors.js';

export interface MosquittoServerOptions {
  progress?: Progress;
  startTimeoutMs?: number;
}

/** A mosquitto broker of our own on loopback (anonymous, in-memory), with a throwaway config dir. */
export class MosquittoServer {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly proc: ServerProcess,
  ) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  static async start(opts: MosquittoServerOptions = {}): Promise<MosquittoServer> {
    const binary = ensureMosquitto(opts.progress);
    const dir = mkdtempSync(join(tmpdir(), 'th-mosquitto-'));
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const config = join(dir, 'mosquitto.conf');
      writeFileSync(
        config,
        [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest stdout', ''].join('\n'),
      );
      const proc = new ServerProcess(binary, ['-c', config], { parentDeathSignal: 'SIGTERM' });
      try {
        await waitUntil(() => accepts(port), proc, opts.startTimeoutMs ?? 15_000, 'mosquitto');
        return new MosquittoServer(port, dir, proc);
      } catch (err) {
        await proc.stop('SIGKILL', 1000);
        if (attempt >= 4 || !/Address already in use/i.test(proc.log)) {
          rmSync(dir, { recursive: true, force: true });
          throw new ServerStartError(`mosquitto on port ${port}: ${(err as Error).message}`, proc.log);
        }
      }
    }
  }

  async stop(): Promise<void> {
    await this.proc.stop('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(500, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(false));
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
  });
}
