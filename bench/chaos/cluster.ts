import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startStack, type LocalStack, type ServerProcess } from '@telemetryhub/testkit';
import { startAppProcess, waitReady } from '../../scripts/local-pipeline.js';
import { processMemoryMiB } from '../process-stats.js';

/**
 * The whole stack as `npm start` runs it — durable PostgreSQL, Redis with its append-only file, the hub with a
 * spool — with the handles a fault needs: restart an app, reach Redis and PostgreSQL, and the peak memory of every
 * process (each app's peak over all its incarnations).
 */
export class ChaosCluster {
  processor!: ServerProcess;
  hub!: ServerProcess;
  readonly peakMiB: Record<string, number> = {};

  private constructor(
    readonly stack: LocalStack,
    private readonly env: NodeJS.ProcessEnv,
    readonly hubUrl: string,
    readonly processorUrl: string,
    private readonly spoolDir: string,
  ) {}

  static async start(env: Record<string, string>): Promise<ChaosCluster> {
    const stack = await startStack({ redis: { appendOnly: true }, postgres: { durable: true } });
    const [hubPort, processorPort] = [await freePort(), await freePort()];
    const spoolDir = mkdtempSync(join(tmpdir(), 'th-chaos-spool-'));
    const cluster = new ChaosCluster(
      stack,
      {
        ...process.env,
        REDIS_URL: stack.redis.url,
        DATABASE_URL: stack.postgres.url,
        HUB_PORT: String(hubPort),
        PROCESSOR_PORT: String(processorPort),
        SPOOL_DIR: spoolDir,
        ...env,
      },
      `http://127.0.0.1:${hubPort}`,
      `http://127.0.0.1:${processorPort}`,
      spoolDir,
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
    this.processor = startAppProcess('task-processor', this.env);
    await waitReady(this.processorUrl, this.processor, 'task-processor', 60_000);
  }

  async startHub(): Promise<void> {
    this.hub = startAppProcess('hub', this.env);
    await waitReady(this.hubUrl, this.hub, 'hub', 60_000);
  }

  /** Records every process's peak resident memory so far (MiB). */
  async samplePeaks(): Promise<void> {
    const pids: Record<string, number | undefined> = {
      hub: this.hub?.pid,
      'task-processor': this.processor?.pid,
      redis: this.stack.redis.pid,
      postgres: this.stack.postgres.pid,
    };
    for (const [name, pid] of Object.entries(pids)) {
      const { peak } = await processMemoryMiB(pid);
      if (Number.isFinite(peak)) this.peakMiB[name] = Math.max(this.peakMiB[name] ?? 0, Math.round(peak));
    }
  }

  /** Stops the apps (SIGTERM: the hub flushes, the processor drains), then Redis and PostgreSQL. */
  async stop(): Promise<void> {
    await this.hub?.stop('SIGTERM', 30_000).catch(() => {});
    await this.processor?.stop('SIGTERM', 30_000).catch(() => {});
    await this.stack.stop();
    rmSync(this.spoolDir, { recursive: true, force: true });
  }
}
