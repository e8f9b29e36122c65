import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { fastUpcast } from './fast-upcast.js';
import { upcastBySchema } from './upcast.js';
import { detectShape, type EventShape } from './event-shape.js';

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../../../fixtures/shapes/${name}.json`, import.meta.url), 'utf8'));

/** Mostly good values, sometimes one the schemas refuse or normalise: good 9 : odd 1. */
const mostly = <T>(good: fc.Arbitrary<T>, odd: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
  fc.oneof({ arbitrary: good, weight: 9 }, { arbitrary: odd, weight: 1 });

/** Odd values, among them text outside the storable domain (storable.ts). */
const oddAnything = fc.constantFrom<unknown>(
  null,
  true,
  0,
  -1,
  1.5,
  NaN,
  Infinity,
  '',
  ' ',
  {},
  [],
  'x'.repeat(200),
  'lone-\uD800',
  'line\nbreak',
  'ansi\u001b[0m',
  'rtl\u202Eoverride',
);
const text = fc.constantFrom(
  'sensor-1',
  'zone 3',
  '  padded  ',
  'ünïcødé-✓',
  'pair-😀',
  'x'.repeat(128),
  'x'.repeat(129),
  '',
);
const metric = fc.constantFrom('temperature', 'temp.c:1', 'A_b-9', ' humidity ', 'bad/metric', 'x'.repeat(65), '');
const date = fc.date({
  min: new Date('1970-01-01T00:00:00Z'),
  max: new Date('2200-01-01T00:00:00Z'),
  noInvalidDate: true,
});
const instant = fc.oneof(
  date.map((d) => d.toISOString()),
  date.map((d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z')),
  date.map((d) => d.getTime() / 1000),
  date.map((d) => d.getTime()),
  fc.double(),
  fc.constantFrom<unknown>(
    '2026-02-30T00:00:00Z',
    '2026-01-01T00:00:00+',
    '2026-01-01T00:00:00z',
    '0050-01-01T00:00:00Z',
    '2026-01-01T00:00:00Z',
    '2026-01-01T01:00:00+01:00',
    '2026-02-30T00:00:00.000Z',
    '2026-01-01T00:00:00.000',
    'yesterday',
    1767225600,
    1767225600123,
    -5,
  ),
);
const value = mostly(
  fc.double({ min: -1e100, max: 1e100, noNaN: true }),
  fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(NaN, Infinity, '21.5', null, 1e100, -1e100, 1.0000000000000002e100, Number.MAX_VALUE),
  ),
);
const optionalLabel = mostly(fc.option(text, { nil: undefined }), oddAnything);
const unit = mostly(
  fc.constantFrom('C', 'celsius', '°C', ' hPa ', '%RH', 'weird-unit', ''),
  fc.oneof(oddAnything, fc.constantFrom('u'.repeat(32), 'u'.repeat(33))),
);
const sequence = mostly(fc.option(fc.nat(), { nil: null }), fc.constantFrom(-1, 1.5, 2 ** 60, '7'));
const eventId = mostly(
  fc.oneof(
    fc.uuid().map((u) => u.toUpperCase()),
    fc.constantFrom('abc', 'device-7/42', 'x'.repeat(128)),
  ),
  fc.constantFrom('', 'x'.repeat(129), 42, null, 'id-\uDC00', 'id\u0007'),
);

/** Any object of the fields a shape reads (each key may be absent), plus a stray key the schemas ignore. */
const eventFields = fc.record(
  {
    event_id: eventId,
    device_id: mostly(text, oddAnything),
    metric: mostly(metric, oddAnything),
    sensor_type: mostly(metric, oddAnything),
    type: mostly(metric, oddAnything),
    event_time: instant,
    timestamp: instant,
    value,
    unit,
    site: optionalLabel,
    region: optionalLabel,
    firmware: optionalLabel,
    firmware_version: optionalLabel,
    schema_version: mostly(fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }), oddAnything),
    sequence_id: sequence,
    priority: mostly(fc.option(fc.constantFrom('HIGH', 'MEDIUM', 3), { nil: undefined }), oddAnything),
    metadata: mostly(
      fc.option(
        fc.record(
          { location: optionalLabel, region: optionalLabel, firmware_version: optionalLabel },
          { requiredKeys: [] },
        ),
        { nil: undefined },
      ),
      oddAnything,
    ),
    extra: fc.anything(),
  },
  { requiredKeys: ['device_id', 'value'] },
);

const SHAPES: EventShape[] = ['reading', 'event-v2', 'ingest', 'gateway-sample'];

test('where the fast path answers, it answers what the schemas answer (property)', () => {
  let answered = 0;
  fc.assert(
    fc.property(fc.constantFrom(...SHAPES), eventFields, (shape, event) => {
      const fast = fastUpcast(shape, event);
      if (fast === undefined) return;
      answered++;
      const judged = upcastBySchema(shape, event);
      assert.deepEqual(judged.issues, [], `the schemas refuse what the fast path took: ${JSON.stringify(event)}`);
      assert.deepEqual([fast], judged.readings);
    }),
    { numRuns: 20_000 },
  );
  assert.ok(answered > 500, `the property compared only ${answered} readings`);
});

test('the common spellings of every single-reading shape take the fast path', () => {
  const now = '2026-01-27T12:00:00.000Z';
  const common: Array<Record<string, unknown>> = [
    fixture('event-v2'),
    fixture('http-ingest-original'),
    { device_id: 'd-1', type: 'humidity', value: 40, timestamp: now },
    { device_id: 'd-1', sensor_type: 'pressure', value: 1013.2, event_time: now, schema_version: 2 },
    {
      event_id: '0190b5a4-7c3e-7d1a-8f00-2b6d5e4c3a21',
      device_id: 'd-1',
      metric: 'voltage',
      event_time: now,
      value: 3.3,
      unit: 'V',
      site: null,
      region: 'eu',
      firmware: '1.0',
      schema_version: 3,
      sequence_id: 17,
    },
  ];
  for (const event of common) {
    const shape = detectShape(event);
    assert.ok(shape, JSON.stringify(event));
    const fast = fastUpcast(shape, event);
    assert.ok(fast, `slow path for ${JSON.stringify(event)}`);
    assert.deepEqual([fast], upcastBySchema(shape, event).readings);
  }
});
