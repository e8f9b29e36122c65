import assert from 'node:assert/strict';
import { eventually } from './eventually.js';
import { fixture } from './fixtures.js';

export interface LatestReadingView {
  value: number;
  event_time: string;
  unit: string;
}

/**
 * Posts the original ingest shape (sensor-42, temperature) to the hub, asserts it was accepted, and returns the
 * latest temperature of sensor-42 as the processor's query API serves it once the reading has gone through.
 */
export async function postOriginalAndReadLatest(hubUrl: string, processorUrl: string): Promise<LatestReadingView> {
  const posted = await fetch(`${hubUrl}/v1/telemetry`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(fixture('http-ingest-original')),
  });
  assert.equal(posted.status, 202);
  return eventually(async () => {
    const r = await fetch(`${processorUrl}/v1/devices/sensor-42/metrics/temperature/latest`);
    return r.status === 200 ? ((await r.json()) as LatestReadingView) : undefined;
  });
}
