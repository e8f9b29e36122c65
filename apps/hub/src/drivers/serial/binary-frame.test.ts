import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BinaryFrameDecoder, encodeBinaryFrame } from './binary-frame.js';

const metrics = ['temperature', 'humidity'];

test('a frame round-trips: sequence and float32 values in metric order', () => {
  const frame = encodeBinaryFrame(42, [21.5, 40.25]);
  assert.equal(frame.length, 3 + 12 + 2);
  assert.deepEqual(new BinaryFrameDecoder(metrics).push(frame), [
    {
      ok: true,
      sample: {
        values: [
          ['temperature', 21.5],
          ['humidity', 40.25],
        ],
        sequence: 42,
      },
    },
  ]);
});

test('a corrupted frame is counted once and the next good frame is still read', () => {
  const bad = encodeBinaryFrame(1, [1, 2]);
  bad[8] = bad[8]! ^ 0xff; // flip a value byte: the CRC no longer matches
  const stream = Buffer.concat([bad, encodeBinaryFrame(2, [3, 4])]);
  const out = new BinaryFrameDecoder(metrics).push(stream);
  assert.deepEqual(
    out.map((r) => (r.ok ? r.sample.sequence : r.reason)),
    ['CRC mismatch', 2],
  );
});

test('noise between frames is counted, a frame for another metric count is refused', () => {
  const d = new BinaryFrameDecoder(metrics);
  const out = d.push(Buffer.concat([Buffer.from('hello'), encodeBinaryFrame(5, [1, 2]), encodeBinaryFrame(6, [1])]));
  assert.deepEqual(
    out.map((r) => (r.ok ? r.sample.sequence : r.reason)),
    ['5 bytes outside any frame', 5, 'payload of 8 bytes, expected 12 for 2 metrics'],
  );
});

test('refuses a frame carrying NaN or Infinity', () => {
  const out = new BinaryFrameDecoder(metrics).push(encodeBinaryFrame(1, [NaN, 2]));
  assert.deepEqual(
    out.map((r) => r.ok),
    [false],
  );
});

test('decodes every frame of a stream however it is chunked (property)', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.nat(),
          fc.float({ noNaN: true, noDefaultInfinity: true }),
          fc.float({ noNaN: true, noDefaultInfinity: true }),
        ),
        { minLength: 1, maxLength: 20 },
      ),
      fc.array(fc.nat(400), { maxLength: 10 }),
      (frames, cuts) => {
        const stream = Buffer.concat(frames.map(([seq, a, b]) => encodeBinaryFrame(seq, [a, b])));
        const d = new BinaryFrameDecoder(metrics);
        const got = [];
        let from = 0;
        for (const p of [...[...new Set(cuts)].filter((c) => c < stream.length).sort((x, y) => x - y), stream.length]) {
          got.push(...d.push(stream.subarray(from, p)));
          from = p;
        }
        assert.deepEqual(
          got.map((r) => (r.ok ? [r.sample.sequence, ...r.sample.values.map(([, v]) => v)] : r.reason)),
          frames.map(([seq, a, b]) => [seq >>> 0, Math.fround(a), Math.fround(b)]),
        );
      },
    ),
  );
});
