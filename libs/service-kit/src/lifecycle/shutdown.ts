import type { Logger } from 'pino';

export interface ShutdownStep {
  name: string;
  run: () => Promise<unknown> | unknown;
}

/**
 * Graceful shutdown that matches Kubernetes termination: on SIGTERM/SIGINT run the steps in order (readiness
 * false → stop intake → drain → close pools), then exit 0. A hard timer exits 1 if a step hangs; a second signal
 * is logged and waited out. A step that throws is logged and the rest still run.
 */
export function installShutdown(opts: {
  log: Logger;
  timeoutMs: number;
  steps: ShutdownStep[];
  exit?: (code: number) => void;
}): { shutdown: (reason: string) => Promise<void> } {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let started: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    if (started) {
      opts.log.warn({ reason }, 'shutdown already in progress; waiting for it');
      return started;
    }
    opts.log.info({ reason, timeoutMs: opts.timeoutMs }, 'shutting down');
    const timer = setTimeout(() => {
      opts.log.error('shutdown timed out; exiting with status 1');
      exit(1);
    }, opts.timeoutMs);
    timer.unref();
    started = (async () => {
      for (const step of opts.steps) {
        try {
          await step.run();
          opts.log.debug({ step: step.name }, 'shutdown step done');
        } catch (err) {
          opts.log.error({ err, step: step.name }, 'shutdown step failed');
        }
      }
      clearTimeout(timer);
      opts.log.info('shutdown complete');
      exit(0);
    })();
    return started;
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  return { shutdown };
}
