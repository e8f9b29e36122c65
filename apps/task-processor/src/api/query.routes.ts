import { Router } from 'express';
import type pg from 'pg';
import { z } from 'zod';
import { AppError, ErrorCodes } from '@telemetryhub/service-kit';
import { DeviceIdSchema, LabelSchema } from '@telemetryhub/schemas';
import { ROLLUP_VIEWS } from '../store/rollup.repo.js';
import type { LatestCache } from '../store/latest.cache.js';
import { DeviceMetricParams, parseParams, timeRange } from './query-params.js';
import { latestReading } from '../store/raw.repo.js';
import type { DevicePseudonymizer } from '../privacy/device-pseudonymizer.js';
import { isoUtc } from '../store/sql-time.js';
import { fromPostgres, storedDeviceId } from './route-support.js';
import { taskStatistics } from '../stats/task-statistics.repo.js';
import { sampleStddev } from '../domain/moments.js';
import { getDevice, listDevices } from '../devices/devices.repo.js';

/** Read API over stored readings, rollups and alerts. Every parameter is validated (400 names it). */
export function queryRouter(deps: {
  pool: pg.Pool;
  latest?: LatestCache;
  /** With device pseudonymisation on: a device is looked up by its pseudonym or by the id it sends. */
  pseudonymizer?: DevicePseudonymizer;
}): Router {
  const router = Router();
  const stored = (deviceId: string) => storedDeviceId(deps.pseudonymizer, deviceId);
  const db = async <T extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<T[]> =>
    (await fromPostgres(deps.pool.query<T>(sql, params))).rows;

  router.get('/v1/devices/:deviceId/metrics/:metric/latest', async (req, res) => {
    const asked = parseParams(DeviceMetricParams, req.params);
    const p = { ...asked, deviceId: stored(asked.deviceId) };
    const cached = deps.latest ? await deps.latest.get(p.deviceId, p.metric) : null;
    if (cached) {
      res.json({ ...cached, source: 'cache' });
      return;
    }
    const reading = await fromPostgres(latestReading(deps.pool, p.deviceId, p.metric));
    if (!reading) {
      throw new AppError(
        ErrorCodes.NOT_FOUND,
        `no reading stored for device "${asked.deviceId}" and metric "${p.metric}"`,
      );
    }
    res.json({ ...reading, source: 'database' });
  });

  const RollupQuery = z.object({ granularity: z.enum(['1m', '1h']).default('1m') }).and(timeRange(1, 400));
  router.get('/v1/devices/:deviceId/metrics/:metric/rollups', async (req, res) => {
    const asked = parseParams(DeviceMetricParams, req.params);
    const p = { ...asked, deviceId: stored(asked.deviceId) };
    const query = parseParams(RollupQuery, req.query);
    const table = ROLLUP_VIEWS[query.granularity];
    const rows = await db<{ bucket: string; count: string; sum: number; min: number; max: number; m2: number | null }>(
      `SELECT to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS bucket, count, sum, min, max, m2
         FROM ${table}
        WHERE device_id = $1 AND metric = $2 AND bucket >= $3 AND bucket <= $4
        ORDER BY bucket
        LIMIT 10000`,
      [p.deviceId, p.metric, query.from, query.to],
    );
    res.json({
      device_id: p.deviceId,
      metric: p.metric,
      granularity: query.granularity,
      from: query.from,
      to: query.to,
      buckets: rows.map(({ m2, ...r }) => {
        const count = Number(r.count);
        return { ...r, count, avg: r.sum / count, stddev: sampleStddev(count, m2) };
      }),
    });
  });

  const AlertQuery = z.object({
    state: z.enum(['firing', 'resolved']).optional(),
    device: DeviceIdSchema.optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  });
  router.get('/v1/alerts', async (req, res) => {
    const query = parseParams(AlertQuery, req.query);
    const rows = await db(
      `SELECT id::text, device_id, metric, rule, threshold, state, value, event_id::text,
              ${isoUtc('fired_at')} AS fired_at,
              ${isoUtc('resolved_at')} AS resolved_at, resolved_value
         FROM alerts
        WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR device_id = $2)
        ORDER BY fired_at DESC, id DESC
        LIMIT $3`,
      [query.state ?? null, query.device === undefined ? null : stored(query.device), query.limit],
    );
    res.json({ alerts: rows });
  });

  const DeviceQuery = z.object({
    site: LabelSchema.optional(),
    region: LabelSchema.optional(),
    /** `key=value`: devices carrying that label. */
    label: z
      .string()
      .regex(/^[^=]+=.*$/, { error: 'must be key=value' })
      .transform((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string])
      .optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    offset: z.coerce.number().int().min(0).default(0),
  });
  router.get('/v1/devices', async (req, res) => {
    const query = parseParams(DeviceQuery, req.query);
    const page = await fromPostgres(listDevices(deps.pool, query));
    res.json(page);
  });

  router.get('/v1/devices/:deviceId', async (req, res) => {
    const { deviceId } = parseParams(z.object({ deviceId: DeviceIdSchema }), req.params);
    const device = await fromPostgres(getDevice(deps.pool, stored(deviceId)));
    if (!device) throw new AppError(ErrorCodes.NOT_FOUND, `no device "${deviceId}" (none of its readings is stored)`);
    res.json(device);
  });

  const TaskParams = z.object({ taskId: z.string().min(1).max(128) });
  router.get('/v1/tasks/:taskId/statistics', async (req, res) => {
    const { taskId } = parseParams(TaskParams, req.params);
    const rows = await fromPostgres(taskStatistics(deps.pool, taskId));
    if (rows.length === 0) {
      throw new AppError(
        ErrorCodes.NOT_FOUND,
        `no statistics stored for task "${taskId}" (only telemetry.analyze tasks have them, kept as long as raw readings)`,
      );
    }
    res.json({
      task_id: taskId,
      created_at: rows[0]!.created_at,
      metrics: rows.map(({ task_id: _t, created_at: _c, ...m }) => m),
    });
  });

  return router;
}
