import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parseEvents, parseEventsStrict, jsonTextHasNoNul } from './upcast.js';
import { detectShape } from './event-shape.js';
import { deriveEventId } from './event-id.js';
import { ValidationError } from '@telemetryhub/service-kit';

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../../../fixtures/shapes/${name}.json`, import.meta.url), 'utf8'));

test('upcasts the v2 event fixture to one reading with its own event_id', () => {
  const [r, ...rest] = parseEventsStrict(fixture('event-v2'));
  assert.equal(rest.length, 0);
  assert.deepEqual(r, {
    event_id: '6f1c2a9e-3b0d-4c8e-9a51-0d2f7e4b8c13',
    device_id: 'D-789',
    metric: 'temperature',
    event_time: '2026-01-27T12:00:00.000Z',
    value: 21.4,
    unit: 'C',
    site: null,
    region: 'us-east',
    firmware: '1.2.3',
    schema_version: 2,
    sequence_id: null,
  });
});

test('upcasts the gateway multi-metric sample to one reading per metric with derived ids', () => {
  const readings = parseEventsStrict(fixture('gateway-sample-multi'));
  assert.deepEqual(
    readings.map((r) => [r.metric, r.value, r.unit]),
    [
      ['temperature', 23.5, 'C'],
      ['humidity', 65.2, '%'],
      ['pressure', 1013.25, 'hPa'],
      ['voltage', 3.3, 'V'],
      ['current', 0.5, 'A'],
    ],
  );
  const ids = new Set(readings.map((r) => r.event_id));
  assert.equal(ids.size, 5, 'every metric gets its own event_id');
  assert.equal(readings[0]!.event_id, deriveEventId('sensor_001', 'temperature', '2025-12-26T10:30:00.000Z', 23.5));
});

test('a resent gateway sample gets the same event ids, so it dedups downstream', () => {
  const a = parseEventsStrict(fixture('gateway-sample-multi')).map((r) => r.event_id);
  const b = parseEventsStrict(fixture('gateway-sample-multi')).map((r) => r.event_id);
  assert.deepEqual(a, b);
});

test('upcasts the original HTTP ingest payload, reading site and firmware from metadata', () => {
  const [r] = parseEventsStrict(fixture('http-ingest-original'));
  assert.equal(r!.device_id, 'sensor-42');
  assert.equal(r!.metric, 'temperature');
  assert.equal(r!.unit, 'C', 'celsius is canonicalised');
  assert.equal(r!.site, 'zone-3');
  assert.equal(r!.firmware, '2.3.1');
  assert.equal(r!.event_time, '2026-01-03T08:15:30.250Z');
  assert.equal(r!.schema_version, 1);
});

test('accepts a batch mixing every shape, as an array and as { events: [...] }', () => {
  const batch = [fixture('event-v2'), fixture('gateway-sample-multi'), fixture('http-ingest-original')];
  assert.equal(parseEventsStrict(batch).length, 7);
  assert.equal(parseEventsStrict({ events: batch }).length, 7);
});

test('names the field and index of each bad event in a batch', () => {
  const bad = { ...fixture('event-v2'), value: 'hot' };
  const noTime = { ...fixture('http-ingest-original') };
  delete noTime.timestamp;
  const parsed = parseEvents({ events: [fixture('event-v2'), bad, noTime] });
  assert.deepEqual(parsed.rejected, [1, 2]);
  assert.deepEqual(
    parsed.issues.map((i) => i.path),
    ['events[1].value', 'events[2].timestamp'],
  );
  assert.equal(parsed.readings.length, 1);
});

test('refuses a zoneless timestamp rather than guessing its zone', () => {
  const e = { ...fixture('event-v2'), event_time: '2026-01-27T12:00:00' };
  assert.throws(
    () => parseEventsStrict(e),
    (err: unknown) => err instanceof ValidationError && err.issues[0]!.path === 'event_time',
  );
});

test('refuses an infinite value (1e999 parses to Infinity)', () => {
  const e = JSON.parse(
    '{"device_id":"d","metric":"t","event_id":"x","event_time":"2026-01-01T00:00:00Z","value":1e999}',
  );
  assert.throws(() => parseEventsStrict(e), /value: must be a finite number/);
});

test('says which shapes it knows when an event matches none', () => {
  assert.throws(() => parseEventsStrict({ hello: 'world' }), /unrecognised event shape/);
});

test('maps a non-UUID event_id to a stable UUID', () => {
  const e = { ...fixture('event-v2'), event_id: 'order-17' };
  const [a] = parseEventsStrict(e);
  const [b] = parseEventsStrict(e);
  assert.match(a!.event_id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-/);
  assert.equal(a!.event_id, b!.event_id);
});

test('a reading in the internal form survives a round trip through JSON unchanged', () => {
  const reading = fc.record({
    event_id: fc.uuid().map((u) => u.toLowerCase()),
    device_id: fc.stringMatching(/^[a-zA-Z0-9_-]{1,32}$/),
    metric: fc.stringMatching(/^[a-z_]{1,16}$/),
    event_time: fc
      .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
      .map((d) => d.toISOString()),
    value: fc.double({ min: -1e100, max: 1e100, noNaN: true }),
    unit: fc.constantFrom('C', '%', 'V', null),
    site: fc.constantFrom('plant-1', null),
    region: fc.constantFrom('eu-west', null),
    firmware: fc.constantFrom('1.0.0', null),
    schema_version: fc.constant(3),
    sequence_id: fc.option(fc.nat(), { nil: null }),
  });
  fc.assert(
    fc.property(reading, (r) => {
      const back = parseEventsStrict(JSON.parse(JSON.stringify(r)));
      // -0 becomes 0 through JSON, which is the same reading.
      assert.deepEqual(back, [{ ...r, value: r.value === 0 ? 0 : r.value }]);
    }),
  );
});

test('tells shapes apart by their keys', () => {
  assert.equal(detectShape(fixture('event-v2')), 'event-v2');
  assert.equal(detectShape(fixture('gateway-sample-multi')), 'gateway-sample');
  assert.equal(detectShape(fixture('http-ingest-original')), 'ingest');
  assert.equal(detectShape({ metric: 'x' }), 'reading');
});

test('refuses an event stamped too far in the future, naming the time field of its shape', () => {
  const now = () => Date.parse('2026-01-27T12:00:00Z');
  const opts = { maxFutureSkewMs: 300_000, now };
  const ahead = { ...fixture('event-v2'), event_time: '2026-01-27T13:00:00Z' };
  assert.throws(
    () => parseEventsStrict(ahead, '', opts),
    (e: unknown) =>
      e instanceof ValidationError &&
      e.issues[0]!.path === 'event_time' &&
      /3600 s in the future/.test(e.issues[0]!.message),
  );
  const gateway = { ...fixture('gateway-sample-multi'), timestamp: '2026-01-27T12:10:00Z' };
  const parsed = parseEvents({ events: [fixture('event-v2'), gateway] }, '', opts);
  assert.deepEqual(
    parsed.issues.map((i) => i.path),
    ['events[1].timestamp'],
  );
  assert.equal(
    parseEventsStrict({ ...fixture('event-v2'), event_time: '2026-01-27T12:04:00Z' }, '', opts).length,
    1,
    'within tolerance',
  );
});

test('clamps an event stamped too far in the future to now when told to, and reports each one', () => {
  const now = () => Date.parse('2026-01-27T12:00:00Z');
  const seen: Array<[string, number, string]> = [];
  const opts = {
    maxFutureSkewMs: 300_000,
    now,
    futureSkewPolicy: 'clamp' as const,
    onFutureSkew: (device: string, ahead: number, action: string) => seen.push([device, ahead, action]),
  };
  const sample = fixture('gateway-sample-multi') as { device_id: string };
  const gateway = { ...sample, timestamp: '2026-01-27T13:00:00Z' };
  const honest = { ...fixture('event-v2'), event_time: '2026-01-27T11:59:00Z' };
  const parsed = parseEvents({ events: [honest, gateway] }, '', opts);
  assert.deepEqual(parsed.issues, []);
  const clamped = parsed.readings.filter((r) => r.device_id === sample.device_id);
  assert.ok(clamped.length > 1, 'every reading of the multi-metric sample');
  for (const r of clamped) assert.equal(r.event_time, '2026-01-27T12:00:00.000Z');
  assert.ok(
    parsed.readings.some((r) => r.event_time === '2026-01-27T11:59:00.000Z'),
    'honest time kept',
  );
  assert.deepEqual(seen, [[sample.device_id, 3_600_000, 'clamped']]);

  seen.length = 0;
  parseEvents(gateway, '', { ...opts, futureSkewPolicy: 'reject' });
  assert.deepEqual(
    seen.map((s) => s[2]),
    ['rejected'],
  );
});

test('refuses a batch over 10,000 events before looking at any of them (bounded work per input)', () => {
  const one = fixture('event-v2');
  const parsed = parseEvents({ events: Array.from({ length: 10_001 }, () => one) });
  assert.deepEqual(parsed.readings, []);
  assert.deepEqual(parsed.issues, [
    { path: 'events', message: 'holds 10001 events; at most 10000 are accepted in one batch' },
  ]);
  assert.equal(parseEvents(Array.from({ length: 10_000 }, () => one)).readings.length, 10_000);
});

test('a NUL character anywhere in an event (PostgreSQL refuses it) is refused at the edge, naming the field', () => {
  const base = { device_id: 'd1', type: 'temperature', value: 1, timestamp: '2026-01-01T00:00:00Z' };
  assert.deepEqual(parseEvents(base).issues, []);
  const inId = parseEvents({ ...base, device_id: 'd\u00001' });
  assert.deepEqual(
    inId.issues.map((i) => i.path),
    ['device_id'],
  );
  const nested = parseEvents({ readings: [base, { ...base, metadata: { tags: ['ok', 'b\u0000d'] } }] });
  assert.deepEqual(
    nested.issues.map((i) => i.path),
    ['readings[1].metadata.tags[1]'],
  );
  assert.match(nested.issues[0]!.message, /NUL/);
});

test('a JSON text without a \\u0000 escape cannot hold NUL in any string, so skipping the scan is safe (property)', () => {
  const holdsNul = (v: unknown): boolean =>
    typeof v === 'string'
      ? v.includes('\u0000')
      : typeof v === 'object' && v !== null
        ? Object.entries(v).some(([k, x]) => k.includes('\u0000') || holdsNul(x))
        : false;
  const event = { device_id: 'd-1', type: 'temperature', value: 21.5, timestamp: '2026-01-27T12:00:00.000Z' };
  const stringUnit = fc.constantFrom('a', '\u0000', '\\', 'u', '0', 'é');
  let withNul = 0;
  fc.assert(
    fc.property(fc.jsonValue({ stringUnit, maxDepth: 3 }), (extra) => {
      const text = JSON.stringify([{ ...event, extra }]);
      const parsed = parseEvents(JSON.parse(text), '', { textHasNoNul: jsonTextHasNoNul(text) });
      if (holdsNul(extra)) {
        withNul++;
        assert.ok(!jsonTextHasNoNul(text), text);
        assert.equal(parsed.readings.length, 0, `taken: ${text}`);
        assert.match(parsed.issues[0]!.path, /^\[0\]\.extra/);
      } else {
        assert.equal(parsed.readings.length, 1, `refused: ${text}`);
      }
    }),
    { numRuns: 3000 },
  );
  assert.ok(withNul > 100, `only ${withNul} values held NUL`);
});
