import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testReading } from '../app.test-support.js';
import fc from 'fast-check';
import { MinuteBuckets } from './rollup-buckets.js';

const r = (device: string, metric: string, time: string, value: number) =>
  testReading({ device_id: device, metric, event_time: time, value });

test('folds readings per (device, metric, bucket), sorted by that key so replicas lock buckets in one order', () => {
  const parts = MinuteBuckets.of([
    r('b', 'temp', '2026-01-01T00:00:30Z', 2),
    r('a', 'temp', '2026-01-01T00:01:10Z', 5),
    r('a', 'hum', '2026-01-01T00:00:10Z', 1),
    r('b', 'temp', '2026-01-01T00:00:50Z', 4),
    r('ab', 'temp', '2026-01-01T00:00:00Z', 9),
  ]).partials()['1m'];
  assert.deepEqual(
    parts.map((p) => [p.device, p.metric, p.bucket.slice(11, 16), p.count, p.sum, p.min, p.max]),
    [
      ['a', 'hum', '00:00', 1, 1, 1, 1],
      ['a', 'temp', '00:01', 1, 5, 5, 5],
      ['ab', 'temp', '00:00', 1, 9, 9, 9],
      ['b', 'temp', '00:00', 2, 6, 2, 4],
    ],
  );
});

test('each bucket carries m2, the sum of squared deviations from its mean, stable for a large mean', () => {
  const values = [1_000_000.1, 1_000_000.2, 1_000_000.3, 1_000_000.4];
  const [part] = MinuteBuckets.of(values.map((v, i) => r('volt', 'v', `2026-01-01T00:00:${10 + i}Z`, v))).partials()[
    '1m'
  ];
  const mean = values.reduce((a, b) => a + b) / values.length;
  const m2 = values.reduce((a, v) => a + (v - mean) ** 2, 0);
  assert.equal(part!.count, 4);
  assert.ok(Math.abs(part!.m2 - m2) < 1e-6, `m2 ${part!.m2} vs ${m2}`);
  assert.ok(Math.abs(part!.m2 - 0.05) < 1e-6, 'the spread of 0.1 steps survives a mean of a million');
  const [single] = MinuteBuckets.of([r('volt', 'v', '2026-01-01T00:00:00Z', 5)]).partials()['1m'];
  assert.equal(single!.m2, 0);
});

/** The oracle: each bucket computed from its readings directly, sums and the two-pass m2, sorted by key. */
function byDefinition(rs: ReadonlyArray<{ device: string; metric: string; ms: number; value: number }>, size: number) {
  const groups = new Map<string, { device: string; metric: string; bucketMs: number; values: number[] }>();
  for (const x of rs) {
    const bucketMs = Math.floor(x.ms / size) * size;
    const key = JSON.stringify([x.device, x.metric, bucketMs]);
    const g = groups.get(key) ?? { device: x.device, metric: x.metric, bucketMs, values: [] };
    g.values.push(x.value);
    groups.set(key, g);
  }
  return [...groups.values()]
    .sort((a, b) =>
      a.device !== b.device
        ? a.device < b.device
          ? -1
          : 1
        : a.metric !== b.metric
          ? a.metric < b.metric
            ? -1
            : 1
          : a.bucketMs - b.bucketMs,
    )
    .map((g) => {
      const sum = g.values.reduce((acc, v) => acc + v, 0);
      const mean = sum / g.values.length;
      return {
        device: g.device,
        metric: g.metric,
        bucket: new Date(g.bucketMs).toISOString(),
        count: g.values.length,
        sum,
        min: Math.min(...g.values),
        max: Math.max(...g.values),
        m2: g.values.reduce((acc, v) => acc + (v - mean) ** 2, 0),
      };
    });
}

test('minute buckets, and hour buckets merged from them, equal each bucket computed from its readings', () => {
  const reading = fc.record({
    device: fc.constantFrom('a', 'b'),
    metric: fc.constantFrom('t', 'h'),
    second: fc.integer({ min: 0, max: 3 * 3600 - 1 }),
    value: fc.double({ min: -1e6, max: 1e6, noNaN: true }),
  });
  fc.assert(
    fc.property(fc.array(reading, { minLength: 1, maxLength: 200 }), (rs) => {
      const xs = rs.map((x) => ({ ...x, ms: Date.UTC(2026, 0, 1) + x.second * 1000 }));
      const got = MinuteBuckets.of(
        xs.map((x) => r(x.device, x.metric, new Date(x.ms).toISOString(), x.value)),
      ).partials();
      // Floating point: both ways agree to rounding, far below any term a wrong merge would leave out.
      const tolerance = 1e-9 * rs.reduce((acc, x) => acc + x.value * x.value, 1);
      for (const [granularity, size] of [
        ['1m', 60_000],
        ['1h', 3_600_000],
      ] as const) {
        const want = byDefinition(xs, size);
        assert.deepEqual(
          got[granularity].map((p) => [p.device, p.metric, p.bucket, p.count, p.min, p.max]),
          want.map((p) => [p.device, p.metric, p.bucket, p.count, p.min, p.max]),
        );
        got[granularity].forEach((p, i) => {
          const w = want[i]!;
          assert.ok(Math.abs(p.sum - w.sum) <= tolerance, `${granularity} sum ${p.sum} vs ${w.sum}`);
          assert.ok(Math.abs(p.m2 - w.m2) <= tolerance, `${granularity} m2 ${p.m2} vs ${w.m2}`);
        });
      }
    }),
    { numRuns: 300 },
  );
});

test('hour rows are only made for hours before the seal: later hours are left to their minute rows', () => {
  const reading = fc.record({
    device: fc.constantFrom('a', 'b'),
    second: fc.integer({ min: 0, max: 4 * 3600 - 1 }),
    value: fc.integer({ min: -1000, max: 1000 }),
  });
  fc.assert(
    fc.property(fc.array(reading, { maxLength: 200 }), fc.integer({ min: 0, max: 4 }), (rs, sealedHours) => {
      const t0 = Date.UTC(2026, 0, 1);
      const minutes = MinuteBuckets.of(
        rs.map((x) => r(x.device, 't', new Date(t0 + x.second * 1000).toISOString(), x.value)),
      );
      const sealedBefore = t0 + sealedHours * 3_600_000;
      const all = minutes.partials();
      const sealed = minutes.partials(sealedBefore);
      assert.deepEqual(sealed['1m'], all['1m'], 'every minute row, sealed hour or not');
      assert.deepEqual(
        sealed['1h'],
        all['1h'].filter((p) => Date.parse(p.bucket) < sealedBefore),
      );
      assert.deepEqual(
        minutes.hourNumbers(),
        [...new Set(rs.map((x) => Math.floor((t0 + x.second * 1000) / 3_600_000)))].sort((a, b) => a - b),
      );
    }),
    { numRuns: 200 },
  );
});

test('minute buckets gathered in two parts and absorbed equal one pass, and count the rows they upsert', () => {
  const reading = fc.record({
    device: fc.constantFrom('a', 'b', 'c'),
    metric: fc.constantFrom('t', 'h'),
    second: fc.integer({ min: 0, max: 600 }),
    value: fc.integer({ min: -1000, max: 1000 }),
  });
  fc.assert(
    fc.property(fc.array(reading, { maxLength: 300 }), fc.nat(), (rs, cut) => {
      const k = rs.length ? cut % (rs.length + 1) : 0;
      const whole = new MinuteBuckets();
      const first = new MinuteBuckets();
      const second = new MinuteBuckets();
      rs.forEach((x, i) => {
        const ms = Date.UTC(2026, 0, 1) + x.second * 1000;
        whole.add(x.device, x.metric, ms, x.value);
        (i < k ? first : second).add(x.device, x.metric, ms, x.value);
      });
      first.absorb(second);
      // Integer values: counts, sums, minima and maxima exact either way, so equal; m2 (merged pairwise here,
      // by Welford's update there) to rounding.
      const [got, want] = [first.partials(), whole.partials()];
      for (const g of ['1m', '1h'] as const) {
        const exact = (ps: (typeof got)['1m']) =>
          ps.map((p) => [p.device, p.metric, p.bucket, p.count, p.sum, p.min, p.max]);
        assert.deepEqual(exact(got[g]), exact(want[g]));
        got[g].forEach((p, i) => assert.ok(Math.abs(p.m2 - want[g][i]!.m2) <= 1e-6 * (1 + want[g][i]!.m2), `${g} m2`));
      }
      assert.equal(whole.size, want['1m'].length);
      assert.equal(first.size, whole.size, 'a bucket in both parts counted once');
    }),
    { numRuns: 300 },
  );
});
