import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureSocat, type Progress } from './packages.js';
import { ServerProcess, waitUntil } from './server-process.js';
import { ServerStartError } from './errors.js';

export interface PtyPairOptions {
  progress?: Progress;
  /** Reuse these link paths (to plug the same "cable" back in after `unplug()`). Default: a new temp dir. */
  dir?: string;
  startTimeoutMs?: number;
}

/**
 * A null-modem cable made of two pseudo-terminals joined by `socat`: a fake device writes to `devicePath`, the
 * code under test opens `hostPath` as a serial port. Both paths are symlinks to `/dev/pts/N`; `unplug()` kills
 * socat, which closes the host side as a pulled USB adapter would, and `PtyPair.start({ dir })` plugs it back.
 */
export class PtyPair {
  private constructor(
    readonly dir: string,
    private readonly proc: ServerProcess,
    private readonly ownsDir: boolean,
  ) {}

  get devicePath(): string {
    return join(this.dir, 'device');
  }
  get hostPath(): string {
    return join(this.dir, 'host');
  }

  static async start(opts: PtyPairOptions = {}): Promise<PtyPair> {
    const binary = ensureSocat(opts.progress);
    const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'th-pty-'));
    const [device, host] = [join(dir, 'device'), join(dir, 'host')];
    const pty = (link: string) => `pty,raw,echo=0,link=${link}`;
    const proc = new ServerProcess(binary, ['-d', '-d', pty(device), pty(host)], { parentDeathSignal: 'SIGTERM' });
    try {
      await waitUntil(
        async () => proc.log.includes('starting data transfer loop') && existsSync(device) && existsSync(host),
        proc,
        opts.startTimeoutMs ?? 10_000,
        'socat',
      );
    } catch (err) {
      await proc.stop('SIGKILL', 1000);
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
      throw new ServerStartError(`socat pty pair: ${(err as Error).message}`, proc.log);
    }
    return new PtyPair(dir, proc, !opts.dir);
  }

  /** Pulls the cable: socat exits and both pseudo-terminals (and their links) go away. */
  async unplug(): Promise<void> {
    await this.proc.stop('SIGTERM', 2000);
  }

  async stop(): Promise<void> {
    await this.unplug();
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }
}
