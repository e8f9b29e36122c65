import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseEvents } from './upcast.js';
import { STORABLE, storableTextIssue } from './storable.js';

const base = {
  event_id: 'e-1',
  device_id: 'dev-1',
  metric: 'temperature',
  event_time: '2026-01-27T12:00:00.000Z',
  value: 21.5,
};

/** The issues parseEvents reports for one event of each single-reading shape, with `patch` applied. */
function issuesFor(patch: Record<string, unknown>): Array<{ path: string; message: string }> {
  return parseEvents([{ ...base, ...patch }]).issues;
}

test('event times outside 1970 … 2199 are refused with the field named; the ends are exact', () => {
  for (const t of [
    '0000-01-01T00:00:00Z',
    '0000-01-01T00:00:00.000Z',
    '1969-12-31T23:59:59.999Z',
    '2200-01-01T00:00:00.000Z',
    '9999-12-31T23:59:59.999Z',
    1e15, // epoch ms in the year 33658
  ]) {
    const issues = issuesFor({ event_time: t });
    assert.equal(issues.length, 1, `${t} refused`);
    assert.equal(issues[0]!.path, '[0].event_time');
    assert.match(issues[0]!.message, /1970-01-01T00:00:00Z up to \(not including\) 2200/);
  }
  assert.deepEqual(issuesFor({ event_time: '1970-01-01T00:00:00.000Z' }), []);
  assert.deepEqual(issuesFor({ event_time: '2199-12-31T23:59:59.999Z' }), []);
  assert.deepEqual(issuesFor({ event_time: 0 }), []);
});

test('values beyond ±1e100 are refused; the bound itself is storable', () => {
  for (const v of [1e200, -1e101, Number.MAX_VALUE, -Number.MAX_VALUE]) {
    const issues = issuesFor({ value: v });
    assert.deepEqual(issues, [{ path: '[0].value', message: 'must be a finite number of magnitude at most 1e100' }]);
  }
  assert.deepEqual(issuesFor({ value: STORABLE.maxAbsValue }), []);
  assert.deepEqual(issuesFor({ value: -STORABLE.maxAbsValue }), []);
  assert.deepEqual(issuesFor({ value: Number.MIN_VALUE }), []);
  // The gateway sample's free-form metrics too.
  const sample = parseEvents({ device_id: 'g', timestamp: '2026-01-27T12:00:00Z', torque: 1e300 });
  assert.deepEqual(sample.issues, [{ path: 'torque', message: 'must be a finite number of magnitude at most 1e100' }]);
});

test('text fields refuse lone surrogates, control and bidi characters, naming the field and the character', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['device_id', 'dev-\uD800', /lone surrogate U\+D800 at position 4/],
    ['device_id', '\uDC00dev', /lone surrogate U\+DC00 at position 0/],
    ['device_id', 'dev\nforged log line', /control characters \(U\+000A at position 3\)/],
    ['device_id', 'dev\u001b[31mred', /control characters \(U\+001B/],
    ['device_id', 'dev\u0085', /control characters \(U\+0085/],
    ['device_id', 'abc\u202Efed', /bidirectional formatting characters \(U\+202E/],
    ['event_id', 'id-\uD83D', /lone surrogate/],
    ['site', 'hall\u2066 7', /bidirectional/],
    ['region', 'eu\u007f', /control/],
    ['firmware', '1.0\u200F', /bidirectional/],
    ['unit', 'C\u0000', /NUL|control/],
  ];
  for (const [field, value, message] of cases) {
    const issues = issuesFor({ [field]: value });
    assert.equal(issues.length, 1, `${field}=${JSON.stringify(value)} refused`);
    assert.equal(issues[0]!.path, `[0].${field}`);
    assert.match(issues[0]!.message, message);
  }
  // Well-formed text outside ASCII is storable: a surrogate pair, accents, CJK, a zero-width joiner.
  for (const id of ['sensor-😀', 'Kühlhaus-7', '温度计', 'a\u200Db'])
    assert.deepEqual(issuesFor({ device_id: id }), []);
});

test('every shape applies the same domain (v2, the original ingest shape, gateway samples)', () => {
  const v2 = parseEvents({ device_id: 'd\uD800', sensor_type: 't', event_time: '2026-01-27T12:00:00Z', value: 1 });
  assert.equal(v2.issues[0]?.path, 'device_id');
  const ingest = parseEvents({ device_id: 'd', type: 't', value: 1e101, timestamp: '2026-01-27T12:00:00Z' });
  assert.equal(ingest.issues[0]?.path, 'value');
  const sample = parseEvents({ device_id: 'd', timestamp: '0000-01-01T00:00:00Z', temperature: 1 });
  assert.equal(sample.issues[0]?.path, 'timestamp');
  const meta = parseEvents({
    device_id: 'd',
    type: 't',
    value: 1,
    timestamp: '2026-01-27T12:00:00Z',
    metadata: { location: 'x\r\ny' },
  });
  assert.equal(meta.issues[0]?.path, 'metadata.location');
});

test('storableTextIssue agrees with the definition on any string (property)', () => {
  // The definition, written independently: a lone surrogate (isWellFormed, ES2024), or a code point of category Cc
  // or a bidi formatting character.
  const bad = (s: string) =>
    !(s as unknown as { isWellFormed(): boolean }).isWellFormed() ||
    /[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u.test(s);
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (s) => {
      assert.equal(storableTextIssue(s) !== undefined, bad(s), JSON.stringify(s));
    }),
    { numRuns: 20_000 },
  );
});
