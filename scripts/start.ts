/**
 * `npm start`: the whole stack on this machine, no prior set-up. Starts Redis and PostgreSQL of its own (data
 * under .data/, installing Debian's packages when missing and allowed), the task-processor and the hub with
 * simulated sensors; prints where to look and a progress line; Ctrl-C stops everything it started.
 */
import { join } from 'node:path';
import pg from 'pg';
import { MissingDependencyError } from '@telemetryhub/testkit';
import { ROOT, startLocalPipeline, type LocalPipeline } from './local-pipeline.js';

const HELP = `npm start — run TelemetryHub locally: Redis + PostgreSQL + task-processor + hub (simulated sensors).

  npm start                  start everything; Ctrl-C stops everything
  npm start -- --help        this text

Data is kept under .data/ (TELEMETRYHUB_DATA_DIR to move it; delete it to start over); logs in .data/logs/.
Environment (all optional):
  DEV_REDIS_PORT=16379  DEV_POSTGRES_PORT=15432  HUB_PORT=8080  PROCESSOR_PORT=8081
  SIM_DEVICES=5  SIM_RATE_HZ=1  LOG_LEVEL=info  LOG_FORMAT=pretty   (and any app variable from the README)
If redis-server or PostgreSQL is missing, it is installed with apt-get when running as root; otherwise the
command to run is printed.`;

const say = (line: string) => console.log(`[start] ${line}`);

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(HELP);
    return;
  }
  const dataDir = process.env.TELEMETRYHUB_DATA_DIR ?? join(ROOT, '.data');
  const num = (v: string | undefined, fallback: number) => (v ? Number(v) : fallback);
  let pipeline: LocalPipeline;
  try {
    pipeline = await startLocalPipeline({
      dataDir,
      logDir: join(dataDir, 'logs'),
      redisPort: num(process.env.DEV_REDIS_PORT, 16379),
      postgresPort: num(process.env.DEV_POSTGRES_PORT, 15432),
      hubPort: num(process.env.HUB_PORT, 8080),
      processorPort: num(process.env.PROCESSOR_PORT, 8081),
      // The log files are for the person who ran npm start: pino-pretty lines, not JSON (LOG_FORMAT=json to override).
      env: { LOG_FORMAT: process.env.LOG_FORMAT ?? 'pretty' },
      progress: say,
    });
  } catch (err) {
    if (err instanceof MissingDependencyError) {
      console.error(`[start] cannot start: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const { hubUrl, processorUrl, stack } = pipeline;
  console.log(`
TelemetryHub is running.
  hub            ${hubUrl}        metrics ${hubUrl}/metrics   ingest POST ${hubUrl}/v1/telemetry
  task-processor ${processorUrl}        metrics ${processorUrl}/metrics
  latest reading ${processorUrl}/v1/devices/sim-001/metrics/temperature/latest
  rollups        ${processorUrl}/v1/devices/sim-001/metrics/temperature/rollups?granularity=1m
  alerts         ${processorUrl}/v1/alerts?state=firing
  Redis          ${stack.redis.url}   (queue: tasks:pending)
  PostgreSQL     ${stack.postgres.url}
                 psql ${stack.postgres.url} -c 'SELECT * FROM readings ORDER BY stored_at DESC LIMIT 5'
  logs           ${join(dataDir, 'logs')}/{hub,task-processor}.log
  CLI            REDIS_URL=${stack.redis.url} SPOOL_DIR=${join(dataDir, 'hub-spool')} npx telemetryhub queue stats
Ctrl-C stops everything.
`);

  const db = new pg.Client({ connectionString: stack.postgres.url });
  db.on('error', () => {});
  await db.connect();
  let last = -1;
  const timer = setInterval(async () => {
    try {
      const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM readings');
      const n = Number(rows[0]!.n);
      say(`readings stored in PostgreSQL: ${n}${last >= 0 ? ` (+${n - last} in 5 s)` : ''}`);
      last = n;
    } catch {
      /* the next tick will tell */
    }
  }, 5000);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return say('already stopping; please wait');
    stopping = true;
    say(`${signal}: stopping the hub, the task-processor, Redis and PostgreSQL …`);
    clearInterval(timer);
    await db.end().catch(() => {});
    await pipeline.stop();
    say('stopped; nothing left running');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  for (const [name, proc] of [
    ['hub', pipeline.hub],
    ['task-processor', pipeline.processor],
  ] as const) {
    void proc.exitPromise.then(({ code }) => {
      if (!stopping) {
        console.error(
          `[start] ${name} exited unexpectedly (code ${code}); see ${join(dataDir, 'logs', `${name}.log`)}`,
        );
        void stop('exit');
      }
    });
  }
}

main().catch((err) => {
  console.error('[start] failed:', err instanceof Error ? err.message : err);
  process.exit(1);
});
