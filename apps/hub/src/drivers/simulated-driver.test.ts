import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadingSchema } from '@telemetryhub/schemas';
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

const one = { ...opts, devices: 1, metrics: ['temperature'] };
const seqs = (rs: ReadonlyArray<{ sequence_id: number | null }>) => rs.map((r) => r.sequence_id);
function run(d: SimulatedDriver, samples: number) {
  return Array.from({ length: samples }, (_, i) => d.sampleAll(1, 1_000 * i)).flat();
}

test('anomalies on demand: gaps skip sequence numbers without a read failure', () => {
  const readings = run(new SimulatedDriver({ ...one, anomalies: { gap: 0.3 } }), 200);
  const sent = seqs(readings) as number[];
  assert.ok(sent.length > 100 && sent.length < 180, `about 70 % sent (${sent.length})`);
  assert.deepEqual(
    sent,
    [...sent].sort((a, b) => a - b),
    'still in order',
  );
  assert.ok(sent.at(-1)! >= 199, 'the sequence counted every sample, sent or not');
});

test('anomalies on demand: duplicates repeat a sample with the same event_id', () => {
  const readings = run(new SimulatedDriver({ ...one, anomalies: { duplicate: 1 } }), 5);
  assert.deepEqual(seqs(readings), [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
  assert.equal(readings[0]!.event_id, readings[1]!.event_id);
  assert.equal(new Set(readings.map((r) => r.event_id)).size, 5);
});

test('anomalies on demand: out-of-order holds a sample back until after the next one', () => {
  const readings = run(new SimulatedDriver({ ...one, anomalies: { outOfOrder: 1 } }), 6);
  assert.deepEqual(seqs(readings), [2, 1, 4, 3, 6, 5]);
  assert.ok(Date.parse(readings[0]!.event_time) > Date.parse(readings[1]!.event_time), 'event times go back');
});

test('anomalies on demand: spikes leave the metric range, and nothing changes without anomalies', () => {
  const { min, max } = METRIC_MODELS.temperature!;
  const spiked = run(new SimulatedDriver({ ...one, anomalies: { spike: 1 } }), 50);
  for (const r of spiked) assert.ok(r.value <= min || r.value >= max, `${r.value} is a spike`);
  const plain = run(new SimulatedDriver(one), 50).map((r) => r.value);
  const zero = run(new SimulatedDriver({ ...one, anomalies: { spike: 0, gap: 0 } }), 50).map((r) => r.value);
  assert.deepEqual(zero, plain, 'zero rates draw no random numbers: seeded runs stay the same');
});

test('reports every anomaly it injects, so a test knows what downstream must find', () => {
  const seen = { spike: 0, gap: 0, duplicate: 0, out_of_order: 0 };
  const d = new SimulatedDriver({
    ...one,
    anomalies: { spike: 0.1, gap: 0.1, duplicate: 0.1, outOfOrder: 0.1 },
    onAnomaly: (kind) => seen[kind]++,
  });
  const readings = run(d, 500);
  const last = Math.max(...(seqs(readings) as number[]));
  const distinct = new Set(readings.map((r) => r.event_id)).size;
  assert.equal(readings.length - distinct, seen.duplicate, 'each duplicate is one extra copy');
  assert.ok(
    last - distinct >= seen.gap && last - distinct <= seen.gap + 1,
    'gaps (and at most one held sample) missing',
  );
  assert.ok(
    Object.values(seen).every((n) => n > 10),
    JSON.stringify(seen),
  );
});
