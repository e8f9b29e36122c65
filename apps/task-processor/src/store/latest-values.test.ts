import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LatestValues } from './latest-values.js';
import { SeriesIndex } from '../domain/series-index.js';

const reading = fc.record({
  device_id: fc.constantFrom('a', 'b', 'c'),
  metric: fc.constantFrom('t', 'p'),
  ms: fc.integer({ min: 0, max: 20 }),
  value: fc.integer(),
  event_id: fc.uuid(),
});
type R = typeof reading extends fc.Arbitrary<infer T> ? T : never;

const add = (v: LatestValues, rs: readonly R[]) => {
  for (const r of rs) v.add({ ...r, event_time: new Date(r.ms).toISOString(), unit: null }, r.ms, 'at');
};

/** `device/metric: event id` of each series held. */
function held(v: LatestValues): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [device, metrics] of v.devices())
    for (const [metric, x] of metrics) out[`${device}/${metric}`] = x.event_id;
  return out;
}

test('gathered in two parts and absorbed, each series keeps its newest reading, the first of equals, as one pass would', () => {
  fc.assert(
    fc.property(fc.array(reading, { maxLength: 300 }), fc.nat(), fc.boolean(), (rs, cut, shared) => {
      const k = rs.length ? cut % (rs.length + 1) : 0;
      // Both parts numbering series by one index (as a fold's aggregates do), or each by its own (one gathered
      // before its owner started a new index, the other after).
      const index = new SeriesIndex();
      const first = new LatestValues(shared ? index : new SeriesIndex());
      const later = new LatestValues(shared ? index : new SeriesIndex());
      add(first, rs.slice(0, k));
      add(later, rs.slice(k));
      first.absorb(later);
      // The plain definition: per series, the earliest-added reading among those with the greatest event time.
      const expected: Record<string, string> = {};
      const best = new Map<string, number>();
      for (const r of rs) {
        const key = `${r.device_id}/${r.metric}`;
        if (!best.has(key) || r.ms > best.get(key)!) {
          best.set(key, r.ms);
          expected[key] = r.event_id;
        }
      }
      assert.deepEqual(held(first), expected);
      assert.equal(first.size, Object.keys(expected).length);
    }),
  );
});

test('a value comes back as it went in: event time, value, unit, event id, and the commit time of its batch', () => {
  const v = new LatestValues();
  const id = (n: number) => `0190a6f1-7c2e-7d3a-9b4c-${String(n).padStart(12, '0')}`;
  const r = (metric: string, ms: number, n: number, unit: string | null) => ({
    device_id: 'dev-1',
    metric,
    event_time: new Date(ms).toISOString(),
    value: n / 10,
    unit,
    event_id: id(n),
  });
  v.add(r('t', Date.UTC(2026, 11, 7, 10, 0, 0, 5), 1, '°C'), Date.UTC(2026, 11, 7, 10, 0, 0, 5), 'batch-1');
  v.add(r('p', Date.UTC(2026, 11, 7, 10, 0, 1), 2, null), Date.UTC(2026, 11, 7, 10, 0, 1), 'batch-1');
  v.add(r('t', Date.UTC(2026, 11, 7, 10, 0, 2), 3, 'K'), Date.UTC(2026, 11, 7, 10, 0, 2), 'batch-2');
  const all = [...v.devices()];
  assert.equal(all.length, 1);
  const [device, metrics] = all[0]!;
  assert.equal(device, 'dev-1');
  assert.deepEqual(Object.fromEntries(metrics), {
    t: {
      ms: Date.UTC(2026, 11, 7, 10, 0, 2),
      event_time: '2026-12-07T10:00:02.000Z',
      value: 0.3,
      unit: 'K',
      event_id: id(3),
      stored_at: 'batch-2',
    },
    p: {
      ms: Date.UTC(2026, 11, 7, 10, 0, 1),
      event_time: '2026-12-07T10:00:01.000Z',
      value: 0.2,
      unit: null,
      event_id: id(2),
      stored_at: 'batch-1',
    },
  });
});

test('a series index numbers each series once, and says when it holds its capacity', () => {
  const index = new SeriesIndex(3);
  assert.deepEqual(
    [index.slot('a', 't'), index.slot('a', 'p'), index.slot('b', 't'), index.slot('a', 't')],
    [0, 1, 2, 0],
  );
  assert.equal(index.size, 3);
  assert.ok(index.full);
  assert.deepEqual([index.device(2), index.metric(2)], ['b', 't']);
  const other = new SeriesIndex();
  other.slot('z', 'z');
  assert.equal(index.slotOf(index, 2), 2, 'the same index: the same number');
  assert.equal(other.slotOf(index, 2), 1, 'another index: the series found, or numbered, there');
  assert.equal(other.slotOf(index, 2), 1);
});

test('more series than the columns first hold: they grow, and every series keeps its own newest value', () => {
  const v = new LatestValues();
  const n = 3000;
  for (let i = 0; i < n; i++) {
    const ms = Date.UTC(2026, 11, 7) + i;
    v.add(
      {
        device_id: `d${i % 700}`,
        metric: `m${i}`,
        event_time: new Date(ms).toISOString(),
        value: i,
        unit: null,
        event_id: `id-${i}`,
      },
      ms,
      `batch-${i % 3}`,
    );
  }
  assert.equal(v.size, n);
  const seen = new Map<string, number>();
  for (const [device, metrics] of v.devices()) {
    for (const [metric, x] of metrics) {
      assert.equal(`d${x.value % 700}/m${x.value}`, `${device}/${metric}`);
      assert.equal(x.stored_at, `batch-${x.value % 3}`);
      seen.set(metric, x.value);
    }
  }
  assert.equal(seen.size, n);
});
