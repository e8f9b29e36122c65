import { Router, type RequestHandler } from 'express';
import { AppError, ErrorCodes } from '@telemetryhub/service-kit';
import type { DeviceRegistry } from './device-registry.js';
import type { HubMetrics } from '../metrics/hub-metrics.js';
import type { ReadingBuffer } from '../buffer/reading-buffer.js';

async function total(counter: { get(): Promise<{ values: Array<{ value: number }> }> }): Promise<number> {
  return (await counter.get()).values.reduce((n, v) => n + v.value, 0);
}

/**
 * The original gateway's REST contract, kept so its GUI and scripts keep working: `GET /status`,
 * `POST /start|/stop|/reset` (all devices; `{"ok":true}`, or 400 with a message), and the same per device under
 * `/v1/devices/:id/…`. `guard` (the ingest API keys, when configured) protects every route: the status names
 * devices and their readings, and the POSTs switch sensors.
 */
export function deviceControlRouter(deps: {
  registry: DeviceRegistry;
  metrics: HubMetrics;
  buffer: ReadingBuffer;
  guard?: RequestHandler;
}): Router {
  const router = Router();
  const guard: RequestHandler = deps.guard ?? ((_req, _res, next) => next());
  const ok = { ok: true };
  const device = (id: string) => {
    const d = deps.registry.get(id);
    if (!d) throw new AppError(ErrorCodes.NOT_FOUND, `no device "${id}" on this hub`);
    return d;
  };

  router.get('/status', guard, async (_req, res) => {
    res.json({
      state: deps.registry.state,
      latest_sample: deps.registry.latestSample(),
      metrics: {
        samples_processed: await total(deps.metrics.readings),
        samples_dropped: await total(deps.metrics.bufferDropped),
        samples_published: await total(deps.metrics.publishedReadings),
        buffer_samples: deps.buffer.size,
        buffer_capacity: deps.buffer.capacity,
      },
      devices: deps.registry.snapshots(),
    });
  });
  router.post('/start', guard, (_req, res) => {
    deps.registry.startAll();
    res.json(ok);
  });
  router.post('/stop', guard, (_req, res) => {
    deps.registry.stopAll();
    res.json(ok);
  });
  router.post('/reset', guard, (_req, res) => {
    deps.registry.resetAll();
    res.json(ok);
  });

  router.get('/v1/devices/:id/status', guard, (req, res) => {
    res.json({
      ...device(String(req.params.id)).snapshot(),
      latest_sample: deps.registry.latestSample(String(req.params.id)),
    });
  });
  router.post('/v1/devices/:id/start', guard, (req, res) => {
    device(String(req.params.id)).start();
    res.json(ok);
  });
  router.post('/v1/devices/:id/stop', guard, (req, res) => {
    device(String(req.params.id)).stop();
    res.json(ok);
  });
  router.post('/v1/devices/:id/reset', guard, (req, res) => {
    device(String(req.params.id)).reset();
    res.json(ok);
  });
  return router;
}
