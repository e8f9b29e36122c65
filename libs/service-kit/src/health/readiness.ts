/** A dependency check: resolves when the dependency answers, rejects (or times out) when it does not. */
export type ReadinessCheck = () => Promise<unknown>;

export interface ReadinessReport {
  ready: boolean;
  draining: boolean;
  checks: Record<string, 'ok' | string>;
}

/**
 * Readiness, as Kubernetes means it: can this instance take traffic now? False while draining (after SIGTERM)
 * or while a dependency check fails. Liveness is separate and never checks dependencies, so an outage of Redis
 * or PostgreSQL does not restart every pod.
 */
export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();
  private draining = false;

  constructor(private readonly timeoutMs = 1000) {}

  register(name: string, check: ReadinessCheck): this {
    this.checks.set(name, check);
    return this;
  }

  startDraining(): void {
    this.draining = true;
  }
  get isDraining(): boolean {
    return this.draining;
  }

  async report(): Promise<ReadinessReport> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]) => [name, await this.run(check)] as const),
    );
    const checks = Object.fromEntries(entries);
    return { ready: !this.draining && entries.every(([, r]) => r === 'ok'), draining: this.draining, checks };
  }

  private async run(check: ReadinessCheck): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        check(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer in ${this.timeoutMs} ms`)), this.timeoutMs);
        }),
      ]);
      return 'ok';
    } catch (err) {
      return (err as Error).message || 'failed';
    } finally {
      clearTimeout(timer);
    }
  }
}
