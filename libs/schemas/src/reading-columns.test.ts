import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  READING_COLUMNS,
  REQUIRED_COLUMNS,
  payloadReadings,
  readingsFromColumns,
  toColumns,
  type ReadingColumn,
} from './reading-columns.js';
import { eventsOf, parseEvents, type ParseOptions } from './upcast.js';
import type { Reading } from './reading.schema.js';

/** Mostly good values, sometimes one the schemas refuse or normalise. */
const mostly = <T>(good: fc.Arbitrary<T>, odd: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
  fc.oneof({ arbitrary: good, weight: 9 }, { arbitrary: odd, weight: 1 });
const odd = fc.constantFrom<unknown>(null, true, -1, 1.5, NaN, '', ' ', {}, [], 'x'.repeat(200), 'nul\u0000', 'a\nb');
const date = fc.date({ min: new Date('1990-01-01Z'), max: new Date('2100-01-01Z'), noInvalidDate: true });

/** A generator of each column's values, good and bad. */
const VALUES: Record<ReadingColumn, fc.Arbitrary<unknown>> = {
  event_id: mostly(fc.oneof(fc.uuid(), fc.constantFrom('abc', 'device-7/42')), odd),
  device_id: mostly(fc.constantFrom('d-1', 'd-2', ' padded ', 'ünï-✓'), odd),
  metric: mostly(fc.constantFrom('temperature', 'temp.c:1', ' humidity '), fc.constantFrom('bad/metric', 7, null)),
  event_time: mostly(
    fc.oneof(
      date.map((d) => d.toISOString()),
      date.map((d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z')),
      date.map((d) => Math.floor(d.getTime() / 1000)),
    ),
    fc.constantFrom<unknown>('yesterday', '2026-01-01T00:00:00', -5, null, '2026-02-30T00:00:00Z'),
  ),
  value: mostly(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.constantFrom<unknown>(NaN, '21.5', null, 1e300)),
  unit: mostly(fc.constantFrom<unknown>(null, 'C', 'celsius', '°C'), odd),
  site: mostly(fc.constantFrom<unknown>(null, 'plant-1', ''), odd),
  region: mostly(fc.constantFrom<unknown>(null, 'eu'), odd),
  firmware: mostly(fc.constantFrom<unknown>(null, '1.2.3'), odd),
  schema_version: mostly(fc.constantFrom<unknown>(3, 2, 1), fc.constantFrom<unknown>(0, 1.5, 'v3', null)),
  sequence_id: mostly(fc.option(fc.nat(), { nil: null }), fc.constantFrom<unknown>(-1, 1.5, '7')),
};

/** A batch as columns (optional columns left out at random) and the same batch as rows of the internal form. */
const batch = fc
  .record({
    length: fc.integer({ min: 1, max: 12 }),
    present: fc.subarray(READING_COLUMNS.filter((c) => !REQUIRED_COLUMNS.includes(c))),
    seed: fc.integer(),
  })
  .chain(({ length, present }) => {
    const names = [...REQUIRED_COLUMNS, ...present];
    return fc
      .tuple(...names.map((name) => fc.array(VALUES[name], { minLength: length, maxLength: length })))
      .map((arrays) => {
        const columns = Object.fromEntries(names.map((name, k) => [name, arrays[k]!]));
        const rows = Array.from({ length }, (_, i) =>
          Object.fromEntries(names.map((name, k) => [name, arrays[k]![i]])),
        );
        return { columns, rows };
      });
  });

/** `payload[3].value` (a row's issue) as the columns name it: `payload.columns.value[3]`. */
const asColumnPath = (rowPath: string): string =>
  rowPath.replace(/^payload\[(\d+)\]\.([A-Za-z_]+)/, (_, i: string, field: string) => `payload.columns.${field}[${i}]`);

test('a batch in columns parses exactly as the same batch in rows: readings, refusals, messages (property)', () => {
  let refusedSome = 0;
  let acceptedSome = 0;
  const options: ParseOptions[] = [
    { withSources: true },
    { withSources: true, textHasNoNul: true },
    { withSources: true, maxFutureSkewMs: 60_000, now: () => Date.parse('2026-01-01T00:00:00Z') },
    { maxFutureSkewMs: 60_000, futureSkewPolicy: 'clamp', now: () => Date.parse('2026-01-01T00:00:00Z') },
  ];
  fc.assert(
    fc.property(batch, fc.constantFrom(...options), ({ columns, rows }, opts) => {
      // textHasNoNul is the caller's word: give it only where it is true, as a caller reading the text would.
      const hasNul = JSON.stringify(rows).includes('\\u0000');
      const o = opts.textHasNoNul && hasNul ? { ...opts, textHasNoNul: false } : opts;
      const asRows = parseEvents(rows, 'payload', o);
      const asColumns = parseEvents({ columns }, 'payload', o);
      assert.deepEqual(asColumns.readings, asRows.readings);
      assert.deepEqual(asColumns.rejected, asRows.rejected);
      assert.deepEqual(asColumns.sources, asRows.sources);
      assert.equal(asColumns.events, asRows.events);
      const expected = asRows.issues.map((i) => ({ path: asColumnPath(i.path), message: i.message }));
      assert.deepEqual(asColumns.issues, expected);
      if (asRows.rejected.length) refusedSome++;
      if (asRows.readings.length) acceptedSome++;
    }),
    { numRuns: 3_000 },
  );
  assert.ok(refusedSome > 100 && acceptedSome > 100, `compared ${refusedSome} refusals, ${acceptedSome} acceptances`);
});

test('readings survive toColumns and JSON unchanged, with default-only columns left out (property)', () => {
  fc.assert(
    fc.property(batch, ({ rows }) => {
      const readings = parseEvents(rows, 'payload').readings;
      if (readings.length === 0) return;
      const payload = toColumns(readings);
      assert.equal(payloadReadings(payload), readings.length);
      assert.deepEqual(readingsFromColumns(payload.columns), readings, 'a decode thread hands back what it decoded');
      const text = JSON.stringify(payload);
      const back = parseEvents(JSON.parse(text), 'payload', { textHasNoNul: !text.includes('\\u0000') });
      assert.deepEqual(back.issues, []);
      // As rows would be: JSON has no -0, so a -0 reading comes back as 0 in either shape.
      assert.deepEqual(back.readings, JSON.parse(JSON.stringify(readings)));
      for (const name of ['unit', 'site', 'region', 'firmware', 'sequence_id'] as const) {
        assert.equal(
          name in payload.columns,
          readings.some((r) => r[name] !== null),
          name,
        );
      }
      assert.equal(
        'schema_version' in payload.columns,
        readings.some((r) => r.schema_version !== 3),
      );
    }),
    { numRuns: 1_000 },
  );
});

test('columns that cannot be read as readings refuse the payload whole, naming the column', () => {
  const good = { event_id: ['a'], device_id: ['d'], metric: ['m'], event_time: ['2026-01-01T00:00:00Z'], value: [1] };
  const cases: Array<[unknown, string, RegExp]> = [
    [[], 'payload.columns', /object of arrays/],
    [{ ...good, metric: undefined }, 'payload.columns.metric', /required/],
    [{ ...good, value: 1 }, 'payload.columns.value', /must be an array/],
    [{ ...good, unit: ['C', 'C'] }, 'payload.columns.unit', /holds 2 values where payload.columns.event_id holds 1/],
    [{ event_id: [], device_id: [], metric: [], event_time: [], value: [] }, 'payload.columns', /at least one event/],
  ];
  for (const [columns, path, message] of cases) {
    const parsed = parseEvents({ columns }, 'payload');
    assert.equal(parsed.readings.length, 0);
    assert.equal(parsed.issues.length, 1, JSON.stringify(parsed.issues));
    assert.equal(parsed.issues[0]!.path, path);
    assert.match(parsed.issues[0]!.message, message);
    assert.deepEqual(eventsOf({ columns }).length, 0);
  }
  const many = Array.from({ length: 10_001 }, () => 'x');
  const tooMany = parseEvents(
    { columns: { ...good, event_id: many, device_id: many, metric: many, event_time: many, value: many } },
    'payload',
  );
  assert.match(tooMany.issues[0]!.message, /at most 10000/);
});

test('eventsOf gives each reading of columns as a row of the internal form (what a dead letter carries)', () => {
  const readings: Reading[] = parseEvents([
    {
      event_id: 'e-1',
      device_id: 'd-1',
      metric: 'temperature',
      event_time: '2026-01-01T00:00:00Z',
      value: 21.5,
      unit: 'C',
    },
    { event_id: 'e-2', device_id: 'd-2', metric: 'humidity', event_time: '2026-01-01T00:00:01Z', value: 40 },
  ]).readings;
  const rows = eventsOf(JSON.parse(JSON.stringify(toColumns(readings))));
  assert.deepEqual(rows, [
    { ...pick(readings[0]!), unit: 'C' },
    { ...pick(readings[1]!), unit: null },
  ]);
  assert.deepEqual(parseEvents(rows).readings, readings);
});

const pick = (r: Reading) => ({
  event_id: r.event_id,
  device_id: r.device_id,
  metric: r.metric,
  event_time: r.event_time,
  value: r.value,
});
