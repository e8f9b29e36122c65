import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { OutlierInputs } from './outlier-inputs.js';
import { SeriesIndex } from '../domain/series-index.js';
import { uuidBytes, uuidText } from '../domain/uuid-bytes.js';

/** Each series' readings as the detector walks them: `device/metric: [ms value id, …]` in event-time order. */
function walk(inputs: OutlierInputs): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const s of inputs.series()) {
    out[`${s.device}/${s.metric}`] = inputs
      .inEventTimeOrder(s)
      .map((i) => `${inputs.timeMs(i)} ${inputs.value(i)} ${inputs.eventId(i)}`);
  }
  return out;
}

const reading = fc.record({
  device: fc.constantFrom('a', 'b', 'c'),
  metric: fc.constantFrom('t', 'p'),
  ms: fc.integer({ min: 0, max: 20 }),
  value: fc.double({ noNaN: true, noDefaultInfinity: true }),
  id: fc.uuid(),
});

test('readings gathered in two parts and absorbed walk as if added in one, each series in event-time order, ties in order of adding', () => {
  fc.assert(
    fc.property(fc.array(reading, { maxLength: 3000 }), fc.nat(), fc.boolean(), (rs, cut, shared) => {
      const k = rs.length ? cut % (rs.length + 1) : 0;
      const whole = new OutlierInputs();
      // The parts numbering series by one index (as a fold's aggregates do) or each by its own (one replaced).
      const index = new SeriesIndex();
      const first = new OutlierInputs(shared ? index : new SeriesIndex());
      const second = new OutlierInputs(shared ? index : new SeriesIndex());
      if (!shared) second.add('z', 'x', 0, 0, randomUUID()); // numbers that differ from the first part's
      const extra = shared ? 0 : 1;
      rs.forEach((r, i) => {
        whole.add(r.device, r.metric, r.ms, r.value, r.id);
        (i < k ? first : second).add(r.device, r.metric, r.ms, r.value, r.id);
      });
      first.absorb(second);
      assert.equal(first.size, rs.length + extra);
      const walked = walk(first);
      delete walked['z/x'];
      assert.deepEqual(walked, walk(whole));
      assert.equal(first.seriesHeld, Object.keys(walk(whole)).length + extra, 'series counted once, across the parts');
      // The plain meaning: per series, a stable sort by event time of the readings as added.
      const expected: Record<string, string[]> = {};
      for (const r of [...rs].sort((x, y) => x.ms - y.ms)) {
        (expected[`${r.device}/${r.metric}`] ??= []).push(`${r.ms} ${r.value} ${r.id.toLowerCase()}`);
      }
      assert.deepEqual(walk(whole), expected);
    }),
    { numRuns: 200 },
  );
});

test('a UUID survives its 16 bytes, given back lowercase; other text is refused', () => {
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 1000; i++) {
    const id = randomUUID();
    uuidBytes(id, bytes, 16);
    assert.equal(uuidText(bytes, 16), id);
  }
  uuidBytes('6F9619FF-8B86-D011-B42D-00C04FC964FF', bytes, 0);
  assert.equal(uuidText(bytes, 0), '6f9619ff-8b86-d011-b42d-00c04fc964ff');
  for (const bad of ['', 'not-a-uuid', '6f9619ff8b86d011b42d00c04fc964ff', '6f9619ff-8b86-d011-b42d-00c04fc964fg']) {
    assert.throws(() => uuidBytes(bad, bytes, 0), TypeError, bad);
  }
});
