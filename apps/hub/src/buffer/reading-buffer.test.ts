import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { createMetricsRegistry } from '@telemetryhub/service-kit';
import type { Reading } from '@telemetryhub/schemas';
import { createHubMetrics } from '../metrics/hub-metrics.js';
import { ReadingBuffer } from './reading-buffer.js';
import type { TraceOrigin } from './trace-origin.js';

const metrics = () =>
  createHubMetrics(createMetricsRegistry({ service: 'telemetryhub-hub', version: 't', defaultMetrics: false }));
const readings = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({ event_id: `e${from + i}` }) as unknown as Reading);
const origin = (at: number): TraceOrigin => ({ context: ROOT_CONTEXT, bufferedAt: at });

test('a traced buffer keeps each reading’s origin in step, also when drop-oldest evicts', () => {
  const buffer = new ReadingBuffer(4, 'drop-oldest', metrics(), { traced: true });
  const [a, b] = [origin(1), origin(2)];
  buffer.add(readings(0, 3), undefined, a);
  buffer.add(readings(3, 3), undefined, b); // evicts e0 and e1 (and their origins)
  const taken = buffer.take(10);
  assert.deepEqual(
    taken.readings.map((r) => r.event_id),
    ['e2', 'e3', 'e4', 'e5'],
  );
  assert.deepEqual(taken.origins, [a, b, b, b]);
});

test('an untraced buffer hands out no origins (and keeps no ring for them)', () => {
  const buffer = new ReadingBuffer(4, 'reject', metrics());
  buffer.add(readings(0, 2), undefined, origin(1));
  assert.equal(buffer.take(10).origins, undefined);
});
