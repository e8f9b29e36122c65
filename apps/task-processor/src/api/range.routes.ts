import { Router } from 'express';
import type pg from 'pg';
import { z } from 'zod';
import { canonicalInstantMs, isStorableTime } from '@telemetryhub/schemas';
import type { DevicePseudonymizer } from '../privacy/device-pseudonymizer.js';
import { aggregateOver, readingsInRange, type RangeCursor } from '../store/range.repo.js';
import { DeviceMetricParams, parseParams, timeRange } from './query-params.js';
import { fromPostgres, storedDeviceId } from './route-support.js';

/** A page cursor as the API hands it out: opaque to clients (base64url of "<event time>|<event id>"). */
const encodeCursor = (c: RangeCursor) => Buffer.from(`${c.eventTime}|${c.eventId}`).toString('base64url');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Checked whole before it reaches SQL: a forged cursor is the client's 400, never a database error. */
const CursorSchema = z.string().transform((s, ctx) => {
  const [eventTime = '', eventId = ''] = Buffer.from(s, 'base64url').toString('utf8').split('|');
  const ms = canonicalInstantMs(eventTime);
  if (ms === undefined || !isStorableTime(ms) || !UUID.test(eventId)) {
    ctx.addIssue({ code: 'custom', message: 'is not a cursor this API handed out (pass `next` as it is)' });
    return z.NEVER;
  }
  return { eventTime, eventId };
});

/**
 * Raw readings over a window (range, paged) and one aggregate over a window (average, min, max, stddev). Windows
 * are half-open, from ≤ event time < to, by event time.
 */
export function rangeRouter(deps: { pool: pg.Pool; pseudonymizer?: DevicePseudonymizer }): Router {
  const router = Router();
  const target = (params: unknown) => {
    const asked = parseParams(DeviceMetricParams, params);
    return { asked, deviceId: storedDeviceId(deps.pseudonymizer, asked.deviceId), metric: asked.metric };
  };

  const ReadingsQuery = z
    .object({
      limit: z.coerce.number().int().min(1).max(10_000).default(1000),
      after: CursorSchema.optional(),
    })
    .and(timeRange(1, 31));
  router.get('/v1/devices/:deviceId/metrics/:metric/readings', async (req, res) => {
    const { asked, deviceId, metric } = target(req.params);
    const q = parseParams(ReadingsQuery, req.query);
    const readings = await fromPostgres(
      readingsInRange(deps.pool, {
        deviceId,
        metric,
        from: q.from,
        to: q.to,
        limit: q.limit,
        ...(q.after ? { after: q.after } : {}),
      }),
    );
    const last = readings.at(-1);
    res.json({
      device_id: asked.deviceId,
      metric,
      from: q.from,
      to: q.to,
      readings,
      next:
        last && readings.length === q.limit
          ? encodeCursor({ eventTime: last.event_time, eventId: last.event_id })
          : null,
    });
  });

  router.get('/v1/devices/:deviceId/metrics/:metric/average', async (req, res) => {
    const { asked, deviceId, metric } = target(req.params);
    const q = parseParams(timeRange(1, 400), req.query);
    const aggregate = await fromPostgres(aggregateOver(deps.pool, { deviceId, metric, from: q.from, to: q.to }));
    res.json({ device_id: asked.deviceId, metric, from: q.from, to: q.to, ...aggregate });
  });

  return router;
}
