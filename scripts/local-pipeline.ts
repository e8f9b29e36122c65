/**
 * Starts the whole stack on this machine: Redis and PostgreSQL (libs/testkit), then the hub and the
 * task-processor as child processes wired to them. Used by `npm start` and by the end-to-end test, so the test
 * exercises the very start-up path users run.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  ServerProcess,
  freePort,
  isPortInUse,
  sleep,
  startStack,
  type LocalStack,
  type Progress,
} from '@telemetryhub/testkit';

export const ROOT = resolve(import.meta.dirname, '..');

export interface LocalPipelineOptions {
  /** Keep data here (`.data/` for npm start); default: throwaway dirs removed on stop(). */
  dataDir?: string;
  /** Ports: each falls back to a free one when unset, or when the wanted one is taken. */
  redisPort?: number;
  postgresPort?: number;
  hubPort?: number;
  processorPort?: number;
  /** Extra environment for the apps (e.g. SIM_DEVICES, LOG_LEVEL). */
  env?: Record<string, string>;
  /** Run the compiled apps (dist/, plain node) as the container images do, instead of the sources through tsx. */
  compiled?: boolean;
  /** Where the apps' logs go; default: only the last lines are kept, for error messages. */
  logDir?: string;
  progress?: Progress;
  readyTimeoutMs?: number;
}

export interface LocalPipeline {
  stack: LocalStack;
  hub: ServerProcess;
  processor: ServerProcess;
  hubUrl: string;
  processorUrl: string;
  /** Stops the apps (SIGTERM, they drain), then Redis and PostgreSQL. Idempotent. */
  stop(): Promise<void>;
}

async function pickPort(wanted: number | undefined, progress: Progress, what: string): Promise<number> {
  if (wanted === undefined) return freePort();
  if (!(await isPortInUse(wanted))) return wanted;
  const port = await freePort();
  progress(`port ${wanted} for ${what} is taken; using ${port}`);
  return port;
}

/**
 * Starts one app as a child process that dies with its parent: the TypeScript source through tsx, or with
 * `compiled` the `tsc -b` output under plain node, as the container images run it (`node apps/<name>/dist/main.js`).
 */
/**
 * Node flags per app, as its Dockerfile and npm script set them. The hub gets a larger young generation: under
 * HTTP ingest most garbage (request bodies, parsed events) dies within a few milliseconds, and 16 MiB semi-spaces
 * were scavenged every ~40 ms with a tenth of it promoted (measured with `bench/hub-ingest.bench.ts`). The
 * processor's old generation is capped: V8 sizes it to the machine and collects lazily, so a processor draining a
 * backlog grew to 950 MiB resident on a 24 GiB machine although its live data is bounded by its settings
 * (CONSUMER_CONCURRENCY × FETCH_BATCH_SIZE tasks in flight, FOLD_MAX_READINGS held); with the cap it stays under
 * 512 MiB at the same speed (`npm run bench:e2e`). Raise it with those settings (docs/configuration.md).
 */
export const NODE_FLAGS: Record<'hub' | 'task-processor', string[]> = {
  hub: ['--max-semi-space-size=32'],
  'task-processor': ['--max-old-space-size=256'],
};

export function startAppProcess(
  name: 'hub' | 'task-processor',
  env: NodeJS.ProcessEnv,
  logDir?: string,
  compiled = false,
): ServerProcess {
  const entry = compiled ? [`apps/${name}/dist/main.js`] : ['--import', 'tsx', `apps/${name}/src/main.ts`];
  const args = [...NODE_FLAGS[name], ...entry];
  return new ServerProcess(process.execPath, args, {
    parentDeathSignal: 'SIGTERM',
    env,
    cwd: ROOT,
    ...(logDir ? { logFile: join(logDir, `${name}.log`) } : {}),
  });
}

/** Resolves once `${url}/ready` answers 200; rejects with the app's output if it exits or the time runs out. */
export async function waitReady(url: string, proc: ServerProcess, name: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.hasExited) throw new Error(`${name} exited during start-up:\n${proc.log.slice(-3000)}`);
    const ok = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(1000) })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${name} not ready after ${timeoutMs} ms:\n${proc.log.slice(-3000)}`);
    await sleep(100);
  }
}

/** What the hub and the processor need to find the stack and each other's ports (this process's env beneath). */
export function appEnv(
  stack: LocalStack,
  o: { hubPort: number; processorPort: number; spoolDir: string },
): NodeJS.ProcessEnv {
  return {
    ...process.env,
    REDIS_URL: stack.redis.url,
    DATABASE_URL: stack.postgres.url,
    HUB_PORT: String(o.hubPort),
    PROCESSOR_PORT: String(o.processorPort),
    SPOOL_DIR: o.spoolDir,
  };
}

export async function startLocalPipeline(o: LocalPipelineOptions = {}): Promise<LocalPipeline> {
  const progress = o.progress ?? (() => {});
  const redisPort = o.redisPort === undefined ? undefined : await pickPort(o.redisPort, progress, 'Redis');
  const postgresPort =
    o.postgresPort === undefined ? undefined : await pickPort(o.postgresPort, progress, 'PostgreSQL');
  progress('starting Redis and PostgreSQL …');
  const stack = await startStack({
    redis: {
      ...(redisPort ? { port: redisPort } : {}),
      ...(o.dataDir ? { dataDir: join(o.dataDir, 'redis'), appendOnly: true } : {}),
      progress,
    },
    postgres: {
      ...(postgresPort ? { port: postgresPort } : {}),
      ...(o.dataDir ? { dataDir: join(o.dataDir, 'postgres'), durable: true } : {}),
      progress,
    },
  });
  const started: ServerProcess[] = [];
  let spoolDir = '';
  try {
    const hubPort = await pickPort(o.hubPort, progress, 'the hub');
    const processorPort = await pickPort(o.processorPort, progress, 'the task-processor');
    spoolDir = o.dataDir ? join(o.dataDir, 'hub-spool') : mkdtempSync(join(tmpdir(), 'th-spool-'));
    const env = { ...appEnv(stack, { hubPort, processorPort, spoolDir }), ...o.env };
    if (o.logDir) mkdirSync(o.logDir, { recursive: true });
    progress('starting the task-processor and the hub …');
    const processor = startAppProcess('task-processor', env, o.logDir, o.compiled);
    started.push(processor);
    const hub = startAppProcess('hub', env, o.logDir, o.compiled);
    started.push(hub);
    const hubUrl = `http://127.0.0.1:${hubPort}`;
    const processorUrl = `http://127.0.0.1:${processorPort}`;
    const timeout = o.readyTimeoutMs ?? 60_000;
    await Promise.all([
      waitReady(processorUrl, processor, 'task-processor', timeout),
      waitReady(hubUrl, hub, 'hub', timeout),
    ]);
    let stopping: Promise<void> | undefined;
    return {
      stack,
      hub,
      processor,
      hubUrl,
      processorUrl,
      stop: () =>
        (stopping ??= (async () => {
          // The hub first: it flushes its buffer into Redis; then the processor drains what it holds.
          await hub.stop('SIGTERM', 30_000);
          await processor.stop('SIGTERM', 30_000);
          await stack.stop();
          if (!o.dataDir) rmSync(spoolDir, { recursive: true, force: true });
        })()),
    };
  } catch (err) {
    await Promise.allSettled(started.map((p) => p.stop('SIGTERM', 5000)));
    await stack.stop();
    if (!o.dataDir && spoolDir) rmSync(spoolDir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * A metric as an app's `/metrics` shows it now: the sum of its samples (those carrying every label in `labels`,
 * when given), 0 when it has none yet. For tests and benchmarks that watch a real app process.
 */
export async function scrapeMetric(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name} `) && !line.startsWith(`${name}{`)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
