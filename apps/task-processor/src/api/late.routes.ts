import { Router, json } from 'express';
import type pg from 'pg';
import { z } from 'zod';
import { AppError, ErrorCodes, type ApiKeyEntry } from '@telemetryhub/service-kit';
import { DeviceIdSchema } from '@telemetryhub/schemas';
import { parseParams } from './query-params.js';
import { listLateReadings } from '../late/late.repo.js';
import type { LateReplayer } from '../late/late-replay.js';
import type { DevicePseudonymizer } from '../privacy/device-pseudonymizer.js';
import { adminGuard, fromPostgres, storedDeviceId } from './route-support.js';

const LateQuery = z.object({
  device: DeviceIdSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});

const ReplayBody = z.object({
  device: DeviceIdSchema.optional(),
  limit: z.number().int().min(1).max(1_000_000).default(10_000),
});

/** The late side output: list it, and replay what the current horizon now lets in. */
export function lateRouter(deps: {
  pool: pg.Pool;
  /** Absent: the replay answers 404. */
  lateReplayer?: LateReplayer;
  pseudonymizer?: DevicePseudonymizer;
  /** ADMIN_API_KEYS: the replay writes, so it needs one (403 when none is configured). */
  adminKeys?: readonly ApiKeyEntry[];
}): Router {
  const router = Router();
  const stored = (deviceId: string) => storedDeviceId(deps.pseudonymizer, deviceId);

  /** Readings older than the late horizon, kept whole with the reason, oldest first. */
  router.get('/v1/late-readings', async (req, res) => {
    const query = parseParams(LateQuery, req.query);
    const page = await fromPostgres(
      listLateReadings(deps.pool, {
        limit: query.limit,
        offset: query.offset,
        ...(query.device === undefined ? {} : { deviceId: stored(query.device) }),
      }),
    );
    res.json({ total: page.total, late_readings: page.items });
  });

  /**
   * Replays up to `limit` late readings (of `device`, if given) through the telemetry handler: those the current
   * horizon lets in are stored, folded into rollups and removed from the side output; the rest stay. 409 while
   * another replay runs.
   */
  router.post('/v1/late-readings/replay', ...adminGuard(deps.adminKeys), json({ limit: '4kb' }), async (req, res) => {
    if (!deps.lateReplayer) throw new AppError(ErrorCodes.NOT_FOUND, 'late replay is not enabled on this processor');
    const body = parseParams(ReplayBody, req.body ?? {});
    const result = await fromPostgres(
      deps.lateReplayer.replay({
        limit: body.limit,
        ...(body.device === undefined ? {} : { deviceId: stored(body.device) }),
      }),
    );
    res.json({ examined: result.examined, replayed: result.replayed, still_late: result.stillLate });
  });

  return router;
}
