import { Router, json, type Response } from 'express';
import type pg from 'pg';
import { z } from 'zod';
import { AppError, ErrorCodes, type ApiKeyEntry } from '@telemetryhub/service-kit';
import { DeviceIdSchema } from '@telemetryhub/schemas';
import { parseParams } from './query-params.js';
import { listExpiredReadings } from '../expired/expired.repo.js';
import type { ExpiredReplayer } from '../expired/expired-replay.js';
import type { DevicePseudonymizer } from '../privacy/device-pseudonymizer.js';
import { adminGuard, fromPostgres, storedDeviceId } from './route-support.js';

const ExpiredQuery = z.object({
  device: DeviceIdSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});

const ReplayBody = z.object({
  device: DeviceIdSchema.optional(),
  limit: z.number().int().min(1).max(1_000_000).default(10_000),
});

/** The paths and answer keys of the API, and of the older `late-readings` spelling it still answers. */
const SPELLINGS = [
  { path: '/v1/expired-readings', listKey: 'expired_readings', stillKey: 'still_expired', deprecated: false },
  { path: '/v1/late-readings', listKey: 'late_readings', stillKey: 'still_late', deprecated: true },
] as const;

/**
 * Marks an answer of the older spelling deprecated (RFC 9745's `Deprecation`, RFC 8288's `Link` to the successor),
 * so clients find the new path without breaking: the body keeps the keys they were written against.
 */
function deprecated(res: Response, successor: string): void {
  res.set('Deprecation', 'true');
  res.set('Link', `<${successor}>; rel="successor-version"`);
}

/** Expired readings (older than the expiry horizon, set aside whole): list them, and replay what now fits. */
export function expiredRouter(deps: {
  pool: pg.Pool;
  /** Absent: the replay answers 404. */
  expiredReplayer?: ExpiredReplayer;
  pseudonymizer?: DevicePseudonymizer;
  /** ADMIN_API_KEYS: the replay writes, so it needs one (403 when none is configured). */
  adminKeys?: readonly ApiKeyEntry[];
}): Router {
  const router = Router();
  const stored = (deviceId: string) => storedDeviceId(deps.pseudonymizer, deviceId);

  for (const spelling of SPELLINGS) {
    /** Readings older than the expiry horizon, kept whole with the reason, oldest first. */
    router.get(spelling.path, async (req, res) => {
      const query = parseParams(ExpiredQuery, req.query);
      const page = await fromPostgres(
        listExpiredReadings(deps.pool, {
          limit: query.limit,
          offset: query.offset,
          ...(query.device === undefined ? {} : { deviceId: stored(query.device) }),
        }),
      );
      if (spelling.deprecated) deprecated(res, SPELLINGS[0].path);
      res.json({ total: page.total, [spelling.listKey]: page.items });
    });

    /**
     * Replays up to `limit` expired readings (of `device`, if given) through the telemetry handler: those the
     * current horizon now lets in are stored, folded into rollups and removed from `expired_readings`; the rest
     * stay. 409 while another replay runs.
     */
    router.post(`${spelling.path}/replay`, ...adminGuard(deps.adminKeys), json({ limit: '4kb' }), async (req, res) => {
      if (!deps.expiredReplayer) {
        throw new AppError(ErrorCodes.NOT_FOUND, 'the replay of expired readings is not enabled on this processor');
      }
      const body = parseParams(ReplayBody, req.body ?? {});
      const result = await fromPostgres(
        deps.expiredReplayer.replay({
          limit: body.limit,
          ...(body.device === undefined ? {} : { deviceId: stored(body.device) }),
        }),
      );
      if (spelling.deprecated) deprecated(res, `${SPELLINGS[0].path}/replay`);
      res.json({ examined: result.examined, replayed: result.replayed, [spelling.stillKey]: result.stillExpired });
    });
  }

  return router;
}
