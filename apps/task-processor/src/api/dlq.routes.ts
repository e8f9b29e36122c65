import { Router, json } from 'express';
import { z } from 'zod';
import { AppError, ErrorCodes, type ApiKeyEntry } from '@telemetryhub/service-kit';
import { type DeadLetterAdmin, type DeadLetterEntry, type DeadLetterFilter } from '@telemetryhub/queue';
import { parseParams } from './query-params.js';
import { adminGuard, fromRedis } from './route-support.js';

/**
 * The dead-letter queue over HTTP, for operators: list, inspect, replay (one, filtered, all) and purge — what
 * `npx telemetryhub dlq …` does, through the processor. Every route needs an ADMIN_API_KEYS key (dead letters
 * hold raw tasks); without configured keys each request is refused (403).
 */
export function dlqRouter(deps: { dlq?: DeadLetterAdmin; adminKeys?: readonly ApiKeyEntry[] }): Router {
  const router = Router();
  router.use('/v1/dlq', (_req, _res, next) => {
    if (!deps.dlq) throw new AppError(ErrorCodes.NOT_FOUND, 'this processor serves no dead-letter queue');
    next();
  });
  router.use('/v1/dlq', ...adminGuard(deps.adminKeys));
  /** The admin, with every Redis failure reported as 503 rather than an internal error. */
  const redis = <T>(work: (d: DeadLetterAdmin) => Promise<T>): Promise<T> => fromRedis(work(deps.dlq!));

  const Filter = z.object({
    reason: z.string().min(1).optional(),
    type: z.string().min(1).optional(),
    task_id: z.string().min(1).optional(),
  });
  const filterOf = (f: z.output<typeof Filter>): DeadLetterFilter => ({
    ...(f.reason ? { reason: f.reason } : {}),
    ...(f.type ? { type: f.type } : {}),
    ...(f.task_id ? { taskId: f.task_id } : {}),
  });
  const view = (e: DeadLetterEntry) => ({ index: e.index, record: e.record, ...(e.record ? {} : { entry: e.entry }) });

  const ListQuery = Filter.extend({
    limit: z.coerce.number().int().min(1).max(1000).default(50),
    offset: z.coerce.number().int().min(0).default(0),
  });
  router.get('/v1/dlq', async (req, res) => {
    const q = parseParams(ListQuery, req.query);
    const [count, entries] = await Promise.all([
      redis((d) => d.count()),
      redis((d) => d.list({ filter: filterOf(q), limit: q.limit, offset: q.offset })),
    ]);
    res.json({ count, entries: entries.map(view) });
  });

  router.get('/v1/dlq/:index', async (req, res) => {
    const { index } = parseParams(z.object({ index: z.coerce.number().int().min(0) }), req.params);
    const entry = await redis((d) => d.get(index));
    if (!entry) throw new AppError(ErrorCodes.NOT_FOUND, `no dead letter at index ${index}`);
    res.json(view(entry));
  });

  /** One entry (`index`), every entry (`all: true`) or those matching a filter; never nothing said. */
  const Selection = Filter.extend({
    index: z.number().int().min(0).optional(),
    all: z.literal(true).optional(),
  })
    .strict()
    .refine(
      (b) => [b.index !== undefined, b.all === true, !!(b.reason || b.type || b.task_id)].filter(Boolean).length === 1,
      {
        error: 'say which: index, all: true, or a filter (reason, type, task_id) — one of them',
      },
    );

  router.post('/v1/dlq/replay', json({ limit: '4kb' }), async (req, res) => {
    const s = parseParams(Selection, req.body ?? {});
    if (s.index !== undefined) {
      if (!(await redis((d) => d.replayAt(s.index!))))
        throw new AppError(ErrorCodes.NOT_FOUND, `no dead letter at index ${s.index}`);
      res.json({ replayed: 1 });
      return;
    }
    res.json({ replayed: await redis((d) => d.replay(s.all ? {} : filterOf(s))) });
  });

  router.post('/v1/dlq/purge', json({ limit: '4kb' }), async (req, res) => {
    const s = parseParams(Selection, req.body ?? {});
    if (s.index !== undefined) {
      throw new AppError(ErrorCodes.VALIDATION, 'purge takes all: true or a filter, not an index');
    }
    res.json({ purged: await redis((d) => d.purge(s.all ? {} : filterOf(s))) });
  });

  return router;
}
