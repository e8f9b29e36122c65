import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadingSchema } from '@telemetryhub/common';
import { METRIC_MODELS, SimulatedDriver } from './simulated-driver.js';

const opts = {
  devices: 3,
  rateHz: 10,
  metrics: ['temperature', 'humidity', 'voltage'],
  site: 's',
  region: 'r',
  seed: 42,
};

test('produces one reading per device and metric per sample, each valid in the internal form', () => {
  const readings = new SimulatedDriver(opts).sampleAll(2, Date.parse('2026-01-01T00:00:00Z'));
  assert.equal(readings.length, 2 * 3 * 3);
  for (const r of readings) assert.deepEqual(ReadingSchema.parse(r), r);
  assert.equal(new Set(readings.map((r) => r.event_id)).size, readings.length, 'ids are unique');
});

test('numbers each device’s samples so that gaps are visible downstream', () => {
  const d = new SimulatedDriver(opts);
  const readings = [...d.sampleAll(1, 0), ...d.sampleAll(1, 100)].filter(
    (r) => r.device_id === 'sim-002' && r.metric === 'temperature',
  );
  assert.deepEqual(
    readings.map((r) => r.sequence_id),
    [1, 2],
  );
});

test('stays within each metric’s plausible range over a long run', () => {
  const d = new SimulatedDriver({ ...opts, devices: 5 });
  const readings = d.sampleAll(2000, Date.now());
  for (const r of readings) {
    const m = METRIC_MODELS[r.metric]!;
    const slack = 6 * m.noise;
    assert.ok(r.value >= m.min - slack && r.value <= m.max + slack, `${r.metric}=${r.value}`);
  }
});

test('the same seed replays the same values', () => {
  const values = (seed: number) => new SimulatedDriver({ ...opts, seed }).sampleAll(5, 0).map((r) => r.value);
  assert.deepEqual(values(7), values(7));
  assert.notDeepEqual(values(7), values(8));
});

test('delivers readings at the configured rate while started', async () => {
  let clock = 0;
  const d = new SimulatedDriver({ ...opts, devices: 1, metrics: ['temperature'], now: () => clock, tickMs: 5 });
  let count = 0;
  d.start((rs) => (count += rs.length));
  assert.equal(count, 1, 'one sample at start');
  clock += 1000; // 10 Hz × 1 s of simulated time
  const deadline = Date.now() + 5000;
  while (count < 11 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 30)); // a few more ticks with the clock standing still add nothing
  await d.stop();
  assert.equal(count, 11);
});
