/**
 * Runs `round` every `intervalMs` in the background: a round still running is never overlapped, a failed round
 * goes to `onError` and the next one runs as usual, the timer does not keep the process alive, and stop() waits
 * for the round in progress.
 */
export class PeriodicTask {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly round: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** Starts the rounds: the first after one interval, or at once with `now` (a job that should not wait). */
  start(opts: { now?: boolean } = {}): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.runRound(), this.intervalMs);
    this.timer.unref();
    if (opts.now) this.runRound();
  }

  private runRound(): void {
    if (this.running) return;
    this.running = this.round()
      .then(() => undefined)
      .catch((err) => this.onError(err))
      .finally(() => (this.running = undefined));
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
