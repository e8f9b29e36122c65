import { Router } from 'express';
import type pg from 'pg';
import {
  AppError,
  DeviceIdSchema,
  ErrorCodes,
  MetricNameSchema,
  ValidationError,
  formatPath,
} from '@telemetryhub/common';
import { latestReading } from '../store/raw.repo.js';

/** Read API over stored readings. */
export function queryRouter(deps: { pool: pg.Pool }): Router {
  const router = Router();

  router.get('/v1/devices/:deviceId/metrics/:metric/latest', async (req, res) => {
    const device = DeviceIdSchema.safeParse(req.params.deviceId);
    const metric = MetricNameSchema.safeParse(req.params.metric);
    const issues = [
      ...(device.success
        ? []
        : device.error.issues.map((i) => ({ path: formatPath(i.path, 'deviceId'), message: i.message }))),
      ...(metric.success
        ? []
        : metric.error.issues.map((i) => ({ path: formatPath(i.path, 'metric'), message: i.message }))),
    ];
    if (!device.success || !metric.success) throw new ValidationError(issues);
    const reading = await latestReading(deps.pool, device.data, metric.data).catch((err: unknown) => {
      throw new AppError(ErrorCodes.DEPENDENCY_UNAVAILABLE, 'PostgreSQL did not answer', {
        cause: err,
        retryable: true,
      });
    });
    if (!reading) {
      throw new AppError(
        ErrorCodes.NOT_FOUND,
        `no reading stored for device "${device.data}" and metric "${metric.data}"`,
      );
    }
    res.json(reading);
  });

  return router;
}
