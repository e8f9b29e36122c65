import express, { Router } from 'express';
import { AppError, ErrorCodes, ValidationError, parseEvents } from '@telemetryhub/common';
import type { ReadingBuffer } from '../buffer/reading-buffer.js';
import type { HubMetrics } from '../metrics.js';

export interface HttpIngestDeps {
  buffer: ReadingBuffer;
  metrics: HubMetrics;
  bodyLimitBytes: number;
}

/**
 * `POST /v1/telemetry` (and `/telemetry`, the original path): one event or a batch, in any accepted shape.
 * All or nothing: if any event is bad, none is taken and the 400 names every bad field (`events[3].value`), so a
 * client can fix and resend the whole batch without creating duplicates of the good part. 202 when accepted.
 */
export function httpIngestRouter(deps: HttpIngestDeps): Router {
  const router = Router();
  const json = express.json({ limit: deps.bodyLimitBytes, type: ['application/json', 'application/*+json'] });
  const handler: express.RequestHandler = (req, res) => {
    if (!req.is('application/json') && !req.is('application/*+json')) {
      throw new ValidationError([{ path: '', message: 'Content-Type must be application/json' }]);
    }
    const parsed = parseEvents(req.body);
    if (parsed.issues.length) {
      deps.metrics.ingestRejected.inc({ reason: 'invalid' }, Math.max(1, parsed.rejected.length));
      throw new ValidationError(parsed.issues);
    }
    const accepted = deps.buffer.add(parsed.readings);
    if (accepted < parsed.readings.length) {
      deps.metrics.ingestRejected.inc({ reason: 'buffer_full' }, parsed.events);
      res.setHeader('Retry-After', '1');
      throw new AppError(ErrorCodes.BACKPRESSURE, 'the hub buffer is full; retry later');
    }
    for (const r of parsed.readings) deps.metrics.samples.inc({ driver: 'http', metric: r.metric });
    res.status(202).json({ accepted_events: parsed.events, accepted_readings: parsed.readings.length });
  };
  router.post(['/v1/telemetry', '/telemetry'], json, handler);
  return router;
}
