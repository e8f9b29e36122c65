import { createQueueStats } from '@telemetryhub/queue';
import type { CommandContext } from './context.js';
import { UsageError } from '../usage-error.js';

export const QUEUE_HELP = `  queue stats                        depths (pending, processing, delayed, failed), consumers, oldest task age`;

export async function queueCommand(ctx: CommandContext, sub: string | undefined): Promise<number> {
  if (sub !== 'stats') throw new UsageError(sub ? `unknown queue command "${sub}"` : 'queue needs a command: stats');
  const stats = createQueueStats(ctx.driver, ctx.redis, ctx.queue, ctx.shards);
  const d = await stats.depths().finally(() => stats.close());
  if (ctx.json) ctx.out(JSON.stringify({ queue: ctx.queue, shards: ctx.shards, ...d }));
  else {
    const age = d.oldestPendingAgeSeconds === null ? '-' : `${d.oldestPendingAgeSeconds.toFixed(1)} s`;
    ctx.out(
      `queue ${ctx.queue}${ctx.shards > 1 ? ` (${ctx.shards} shards)` : ''}: pending ${d.pending}, processing ${d.processing}, delayed ${d.delayed}, failed ${d.failed}`,
    );
    ctx.out(`consumers ${d.consumers}, oldest pending task ${age}`);
  }
  return 0;
}
