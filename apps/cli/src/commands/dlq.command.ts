import {
  createDeadLetterAdmin,
  createQueueProducer,
  shardQueueNames,
  type DeadLetterEntry,
  type DeadLetterFilter,
} from '@telemetryhub/queue';
import type { CommandContext } from './context.js';
import { UsageError } from '../usage-error.js';

export const DLQ_HELP = `  dlq count                          number of dead letters
  dlq list [filter] [--limit N] [--offset N]
                                     dead letters, newest first (index, time, reason, type, task id, message)
  dlq show <index>                   one dead letter in full, with the raw task
  dlq replay <index> | --all | [filter]
                                     put tasks back on the queue as fresh tasks (oldest first)
  dlq purge --all --yes | [filter] --yes
                                     delete dead letters
    filter: --reason R (invalid_envelope, invalid_payload, unknown_type, poison, attempts_exhausted)
            --type T (task type)   --task-id ID`;

interface DlqOptions {
  reason?: string | undefined;
  type?: string | undefined;
  'task-id'?: string | undefined;
  all?: boolean | undefined;
  yes?: boolean | undefined;
  limit?: string | undefined;
  offset?: string | undefined;
}

function filterOf(o: DlqOptions): DeadLetterFilter {
  const f: DeadLetterFilter = {};
  if (o.reason) f.reason = o.reason;
  if (o.type) f.type = o.type;
  if (o['task-id']) f.taskId = o['task-id'];
  return f;
}

function count(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer`);
  return n;
}

function line(e: DeadLetterEntry): string {
  const r = e.record;
  if (!r) return `${e.index}\t(unreadable entry) ${e.entry.slice(0, 80)}`;
  return [e.index, r.last_failed_at, r.reason, r.task_type ?? '-', r.task_id ?? '-', r.message.slice(0, 100)].join(
    '\t',
  );
}

function failedKeys(ctx: CommandContext): string {
  if (ctx.shards === 1) return `${ctx.queue}:failed`;
  const names = shardQueueNames(ctx.queue, ctx.shards);
  return `${names[0]}:failed … ${names.at(-1)}:failed`;
}

function replayTarget(ctx: CommandContext): string {
  if (ctx.driver === 'bullmq') return `BullMQ queue ${ctx.queue}`;
  return ctx.shards > 1 ? `the pending list of the shard each failed in` : `${ctx.queue}:pending`;
}

export async function dlqCommand(
  ctx: CommandContext,
  sub: string | undefined,
  args: string[],
  o: DlqOptions,
): Promise<number> {
  // With BullMQ, a replay adds the task back as a BullMQ job (the redis-list driver moves it in one script).
  const replayTo = ctx.driver === 'bullmq' ? createQueueProducer('bullmq', ctx.redis, ctx.queue) : undefined;
  const dlq = createDeadLetterAdmin(ctx.redis, ctx.queue, { shards: ctx.shards, ...(replayTo ? { replayTo } : {}) });
  const filter = filterOf(o);
  const filtered = Object.keys(filter).length > 0;
  switch (sub) {
    case 'count': {
      const n = await dlq.count();
      ctx.out(ctx.json ? JSON.stringify({ queue: ctx.queue, count: n }) : String(n));
      return 0;
    }
    case 'list': {
      const entries = await dlq.list({
        filter,
        limit: count(o.limit, 'limit', 50),
        offset: count(o.offset, 'offset', 0),
      });
      if (ctx.json)
        ctx.out(JSON.stringify(entries.map((e) => ({ index: e.index, ...(e.record ?? { entry: e.entry }) }))));
      else {
        ctx.out(['index', 'failed_at', 'reason', 'type', 'task_id', 'message'].join('\t'));
        for (const e of entries) ctx.out(line(e));
        ctx.out(`${entries.length} shown of ${await dlq.count()} dead letters in ${failedKeys(ctx)}`);
      }
      return 0;
    }
    case 'show': {
      const index = count(args[0], 'index', NaN);
      if (Number.isNaN(index)) throw new UsageError('dlq show needs an index (see dlq list)');
      const e = await dlq.get(index);
      if (!e) {
        console.error(`telemetryhub: no dead letter at index ${index}`);
        return 1;
      }
      ctx.out(JSON.stringify(e.record ?? { entry: e.entry }, null, ctx.json ? undefined : 2));
      return 0;
    }
    case 'replay': {
      let n: number;
      if (args[0] !== undefined) n = (await dlq.replayAt(count(args[0], 'index', 0))) ? 1 : 0;
      else if (o.all || filtered) n = await dlq.replay(filter);
      else throw new UsageError('dlq replay needs an index, --all, or a filter (--reason, --type, --task-id)');
      ctx.out(ctx.json ? JSON.stringify({ replayed: n }) : `replayed ${n} task(s) onto ${replayTarget(ctx)}`);
      return 0;
    }
    case 'purge': {
      if (!o.all && !filtered) throw new UsageError('dlq purge needs --all or a filter (--reason, --type, --task-id)');
      if (!o.yes) throw new UsageError('dlq purge deletes dead letters for good: add --yes to confirm');
      const n = await dlq.purge(o.all ? {} : filter);
      ctx.out(ctx.json ? JSON.stringify({ purged: n }) : `purged ${n} dead letter(s)`);
      return 0;
    }
    default:
      throw new UsageError(
        sub ? `unknown dlq command "${sub}"` : 'dlq needs a command: count, list, show, replay, purge',
      );
  }
}
