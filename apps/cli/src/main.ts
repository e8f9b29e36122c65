import { parseArgs } from 'node:util';
import { packageVersion, redactUrl } from '@telemetryhub/service-kit';
import {
  QUEUE_DRIVERS,
  createRedis,
  redisUrlWithPasswords,
  seedNodeError,
  type QueueDriverName,
} from '@telemetryhub/queue';
import { dlqCommand, DLQ_HELP } from './commands/dlq.command.js';
import { queueCommand, QUEUE_HELP } from './commands/queue.command.js';
import { hashKeyCommand, HASH_KEY_HELP } from './commands/hash-key.command.js';
import { spoolCommand, SPOOL_HELP } from './commands/spool.command.js';
import { DEFAULT_DATABASE_URL, migrateCommand, MIGRATE_HELP } from './commands/migrate.command.js';
import { UsageError } from './usage-error.js';

const HELP = `telemetryhub — operate a TelemetryHub queue, hub spool and database

Usage: npx telemetryhub <command> [options]

Commands:
${DLQ_HELP}
${QUEUE_HELP}
${HASH_KEY_HELP}
${SPOOL_HELP}
${MIGRATE_HELP}
Options for every command:
  --redis-url URL   Redis to use (default: $REDIS_URL, else redis://127.0.0.1:6379); $REDIS_PASSWORD and
                    $REDIS_SENTINEL_PASSWORD, when set, are its user's and the sentinels' passwords
  --queue NAME      queue name (default: $QUEUE_NAME, else tasks)
  --driver NAME     queue driver, redis-list or bullmq (default: $QUEUE_DRIVER, else redis-list); DLQ replay
                    puts tasks back through it
  --shards N        shards the queue is spread over (default: $QUEUE_SHARDS, else 1); stats and dead letters
                    of every shard are shown as one queue's
  --json            print JSON instead of text
  --version         print the version
  -h, --help        this text`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'redis-url': { type: 'string' },
      queue: { type: 'string' },
      driver: { type: 'string' },
      shards: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      version: { type: 'boolean', default: false },
      reason: { type: 'string' },
      type: { type: 'string' },
      'task-id': { type: 'string' },
      all: { type: 'boolean', default: false },
      yes: { type: 'boolean', default: false },
      limit: { type: 'string' },
      offset: { type: 'string' },
      dir: { type: 'string' },
      'database-url': { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  const [command, sub, ...rest] = positionals;
  if (values.version) {
    console.log(`telemetryhub cli ${packageVersion(new URL('../package.json', import.meta.url))}`);
    return 0;
  }
  if (values.help || !command) {
    console.log(HELP);
    return command || values.help ? 0 : 2;
  }
  if (command === 'hash-key') return hashKeyCommand(sub, console.log); // needs no Redis
  if (command === 'migrate') {
    if (sub) throw new UsageError(`migrate takes no argument (got "${sub}")`);
    const url = values['database-url'] ?? process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
    return migrateCommand(url, { dryRun: values['dry-run'], json: values.json }, console.log);
  }
  if (command === 'spool') {
    const dir = values.dir ?? process.env.SPOOL_DIR ?? 'data/hub-spool';
    return spoolCommand(sub, dir, values.json, console.log);
  }
  const url = redisUrlWithPasswords({
    REDIS_URL: values['redis-url'] ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    ...(process.env.REDIS_PASSWORD ? { REDIS_PASSWORD: process.env.REDIS_PASSWORD } : {}),
    ...(process.env.REDIS_SENTINEL_PASSWORD ? { REDIS_SENTINEL_PASSWORD: process.env.REDIS_SENTINEL_PASSWORD } : {}),
  });
  const redis = createRedis(url, {
    name: 'telemetryhub-cli',
    offlineQueue: true,
    connectTimeoutMs: 3000,
  });
  // The connection's own error (refused, untrusted certificate, WRONGPASS) says more than the retry limit the
  // failing command reports; the command that fails reports it. A cluster client hides it: its seed is asked.
  let connectionError: Error | undefined;
  redis.on('error', (err: Error) => (connectionError = err));
  try {
    await redis.ping().catch(async (err: Error) => {
      const why = (await seedNodeError(url)) ?? connectionError ?? err;
      throw new Error(`cannot reach Redis at ${redactUrl(url)} (${why.message})`);
    });
    const driver = values.driver ?? process.env.QUEUE_DRIVER ?? 'redis-list';
    if (!(QUEUE_DRIVERS as readonly string[]).includes(driver)) {
      throw new UsageError(`unknown queue driver "${driver}" (known: ${QUEUE_DRIVERS.join(', ')})`);
    }
    const shards = Number(values.shards ?? process.env.QUEUE_SHARDS ?? 1);
    if (!Number.isInteger(shards) || shards < 1 || shards > 1024) {
      throw new UsageError(
        `--shards must be an integer from 1 to 1024 (got ${values.shards ?? process.env.QUEUE_SHARDS})`,
      );
    }
    if (shards > 1 && driver === 'bullmq') throw new UsageError('--shards needs the redis-list driver');
    const ctx = {
      redis,
      driver: driver as QueueDriverName,
      shards,
      queue: values.queue ?? process.env.QUEUE_NAME ?? 'tasks',
      json: values.json,
      out: console.log,
    };
    if (command === 'dlq') return await dlqCommand(ctx, sub, rest, values);
    if (command === 'queue') return await queueCommand(ctx, sub);
    throw new UsageError(`unknown command "${command}"`);
  } finally {
    redis.disconnect();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      console.error(`telemetryhub: ${err.message}\nRun "npx telemetryhub --help" for usage.`);
      process.exit(2);
    }
    console.error(`telemetryhub: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
