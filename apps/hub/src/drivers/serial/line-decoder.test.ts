import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LineDecoder, MAX_LINE_BYTES, decodeLine } from './line-decoder.js';
import { nmeaChecksum } from '../checksums.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const nmea = (body: string) => `$${body}*${nmeaChecksum(body).toString(16).toUpperCase().padStart(2, '0')}`;

test('reads a JSON line: every key a metric, seq as the device counter', () => {
  assert.deepEqual(decodeLine('{"temperature":21.5,"humidity":40,"seq":7}', { format: 'json' }), {
    ok: true,
    sample: {
      values: [
        ['temperature', 21.5],
        ['humidity', 40],
      ],
      sequence: 7,
    },
  });
});

test('refuses JSON lines that are not an object of finite numbers, naming the field', () => {
  const bad = (line: string) => decodeLine(line, { format: 'json' });
  assert.match((bad('{"t":"hot"}') as { reason: string }).reason, /^t: must be a finite number/);
  assert.match((bad('{"t":1e999}') as { reason: string }).reason, /^t: must be a finite number/);
  assert.match((bad('[1,2]') as { reason: string }).reason, /must be an object/);
  assert.match((bad('{"t":1') as { reason: string }).reason, /^not JSON/);
  assert.match((bad('{"__proto__":{"x":1},"t":1}') as { reason: string }).reason, /^not JSON/);
  assert.match((bad('{"seq":-1,"t":1}') as { reason: string }).reason, /seq/);
  assert.match((bad('{"seq":3}') as { reason: string }).reason, /no metric values/);
});

test('reads CSV in the configured column order and names a bad column', () => {
  const format = { format: 'csv', metrics: ['temperature', 'humidity'] } as const;
  assert.deepEqual(decodeLine(' 21.5 ,40.25', format), {
    ok: true,
    sample: {
      values: [
        ['temperature', 21.5],
        ['humidity', 40.25],
      ],
    },
  });
  assert.match((decodeLine('21.5', format) as { reason: string }).reason, /1 fields, expected 2/);
  assert.match((decodeLine('21.5,', format) as { reason: string }).reason, /^humidity: "" is not/);
  assert.match((decodeLine('21.5,NaN', format) as { reason: string }).reason, /^humidity: "NaN" is not/);
  assert.equal(decodeLine('   ', format), null, 'blank lines are skipped, not errors');
});

test('reads NMEA-style sentences: checksum required, sentence matched, empty field = no value', () => {
  const format = { format: 'nmea', metrics: ['temperature', 'humidity'], sentence: 'THS' } as const;
  assert.deepEqual(decodeLine(nmea('THS,21.5,'), format), { ok: true, sample: { values: [['temperature', 21.5]] } });
  const good = nmea('THS,21.5,40.1');
  const corrupted = good.replace('21.5', '21.6');
  assert.match((decodeLine(corrupted, format) as { reason: string }).reason, /checksum mismatch/);
  assert.match((decodeLine(nmea('XYZ,1,2'), format) as { reason: string }).reason, /sentence XYZ is not THS/);
  assert.match((decodeLine('THS,1,2', format) as { reason: string }).reason, /not an NMEA sentence/);
});

test('splits lines across chunks, strips CR, and drops an overlong line once', () => {
  const d = new LineDecoder({ format: 'csv', metrics: ['v'] });
  assert.deepEqual(d.push(bytes('1.5\r\n2')), [{ ok: true, sample: { values: [['v', 1.5]] } }]);
  assert.deepEqual(d.push(bytes('.5\n')), [{ ok: true, sample: { values: [['v', 2.5]] } }]);
  const noise = d.push(bytes('x'.repeat(MAX_LINE_BYTES + 10)));
  assert.equal(noise.length, 1);
  assert.equal(noise[0]!.ok, false);
  assert.deepEqual(d.push(bytes('still the same long line\n3\n')), [{ ok: true, sample: { values: [['v', 3]] } }]);
});

test('decodes the same samples however the stream is chunked (property)', () => {
  const lines = ['{"a":1}', 'garbage', '{"a":2,"seq":1}', '', '{"a":-3.5}'];
  const stream = bytes(lines.join('\n') + '\n');
  const whole = new LineDecoder({ format: 'json' }).push(stream);
  assert.deepEqual(
    whole.map((r) => r.ok),
    [true, false, true, true],
  );
  fc.assert(
    fc.property(fc.array(fc.nat(stream.length), { maxLength: 8 }), (cuts) => {
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      const d = new LineDecoder({ format: 'json' });
      const got = [];
      let from = 0;
      for (const p of [...points, stream.length]) {
        got.push(...d.push(stream.subarray(from, p)));
        from = p;
      }
      assert.deepEqual(got, whole);
    }),
  );
});
