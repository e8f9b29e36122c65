import { Router } from 'express';
import type { Registry } from 'prom-client';
import type { Readiness } from '../health/index.js';

/**
 * The operational endpoints every app serves: `/health` (liveness: the event loop answers; never checks
 * dependencies), `/ready` (readiness: 503 while draining or a dependency is down), `/metrics` (Prometheus text).
 */
export function opsRouter(deps: { readiness: Readiness; registry: Registry }): Router {
  const router = Router();
  router.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/ready', async (_req, res) => {
    const report = await deps.readiness.report();
    res.status(report.ready ? 200 : 503).json(report);
  });
  router.get('/metrics', async (_req, res) => {
    res.type(deps.registry.contentType).send(await deps.registry.metrics());
  });
  return router;
}
