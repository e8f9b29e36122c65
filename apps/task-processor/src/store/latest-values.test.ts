import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LatestValues } from './latest-values.js';

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
    fc.property(fc.array(reading, { maxLength: 300 }), fc.nat(), (rs, cut) => {
      const k = rs.length ? cut % (rs.length + 1) : 0;
      const first = new LatestValues();
      const later = new LatestValues();
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
