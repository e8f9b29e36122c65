import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { pino } from 'pino';
import fc from 'fast-check';
import { PostgresServer } from '@telemetryhub/testkit';
import { createMetricsRegistry } from '@telemetryhub/service-kit';
import { normalizeEventId } from '@telemetryhub/schemas';
import { buildTestHub, listen } from '../../apps/hub/src/app.test-support.js';
import { createTaskDecoder } from '../../apps/task-processor/src/decode/task-decoder.js';
import { createTelemetryHandler } from '../../apps/task-processor/src/handlers/telemetry.handler.js';
import { createProcessorMetrics } from '../../apps/task-processor/src/metrics/processor-metrics.js';
import { createPgPool } from '../../apps/task-processor/src/store/pool.js';
import { migrate } from '@telemetryhub/migrations';

/**
 * What the hub accepts, PostgreSQL stores — as a property over the whole input space: any event the hub answers
 * 202 to, carried as the hub carries it (a task of its readings) through the processor's decoding and storage on
 * a real PostgreSQL, is stored exactly as sent; anything else was refused with a 400 before any 202.
 */
const log = pino({ level: 'silent' });
let server: PostgresServer;
let pool: pg.Pool;
before(async () => {
  server = await PostgresServer.start();
  pool = createPgPool(server.url, { max: 2, statementTimeoutMs: 10_000 }, log);
  await migrate(pool, log);
});
after(async () => {
  await pool.end();
  await server.stop();
});

const loneSurrogates = fc.constantFrom('\uD800', '\uDBFF', '\uDC00', '\uDFFF');
const nasty = fc.constantFrom('\n', '\r', '\u001b[31m', '\u0000', '\u007f', '\u0085', '\u202E', '\u2066', '\u200F');
/** Text from everywhere: any code point (lone surrogates included), graphemes, and characters known to hurt. */
const anyText = (max: number) =>
  fc.oneof(
    fc.string({ unit: 'binary', maxLength: max }),
    fc.string({ unit: 'grapheme', maxLength: max }),
    fc
      .tuple(fc.string({ maxLength: 8 }), fc.oneof(loneSurrogates, nasty), fc.string({ maxLength: 8 }))
      .map((p) => p.join('')),
    fc.stringMatching(/^[A-Za-z0-9_.:-]{1,12}$/),
  );
const anyTime = fc.oneof(
  fc
    .date({ min: new Date(-62_198_755_200_000), max: new Date(8_640_000_000_000_000), noInvalidDate: true })
    .map((d) => d.toISOString()),
  fc.date({ min: new Date(0), max: new Date('2200-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom(
    '0000-01-01T00:00:00Z',
    '0000-01-01T00:00:00.000Z',
    '2199-12-31T23:59:59.999Z',
    '2200-01-01T00:00:00Z',
  ),
  fc.double({ noNaN: true }),
  fc.integer({ min: 0, max: 8_000_000_000_000 }),
);
const anyValue = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(1e100, -1e100, 1.0000000000000002e100, Number.MAX_VALUE, Number.MIN_VALUE, -0),
);
/** Mostly plausible (so that many events are stored), often anything at all (so that many are refused). */
const mostly = <T, U>(plausible: fc.Arbitrary<T>, any: fc.Arbitrary<U>) =>
  fc.oneof({ arbitrary: plausible, weight: 6 }, { arbitrary: any, weight: 1 });
const plausibleText = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9 _.:-]{1,40}$/),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
);
const anyEvent = fc.record(
  {
    event_id: mostly(fc.uuid(), anyText(140)),
    device_id: mostly(plausibleText, anyText(140)),
    metric: mostly(fc.stringMatching(/^[A-Za-z0-9_.:-]{1,64}$/), anyText(70)),
    event_time: mostly(
      fc
        .date({ min: new Date(0), max: new Date('2199-12-31T23:59:59Z'), noInvalidDate: true })
        .map((d) => d.toISOString()),
      anyTime,
    ),
    value: mostly(fc.double({ min: -1e100, max: 1e100, noNaN: true }), anyValue),
    unit: fc.option(mostly(fc.constantFrom('C', '%', 'hPa', 'µS/cm'), anyText(40)), { nil: undefined }),
    site: fc.option(mostly(plausibleText, anyText(140)), { nil: undefined }),
  },
  { requiredKeys: ['event_id', 'device_id', 'metric', 'event_time', 'value'] },
);

test('any event the hub answers 202 to is stored exactly as sent; anything else gets a 400 (property, real PostgreSQL)', async () => {
  const hub = buildTestHub({ capacity: 10_000 });
  const srv = await listen(hub.app);
  const decode = createTaskDecoder();
  const handler = createTelemetryHandler({
    pool,
    log,
    metrics: createProcessorMetrics(createMetricsRegistry({ service: 'p', version: 't', defaultMetrics: false })),
  });
  let accepted = 0;
  let refused = 0;
  try {
    await fc.assert(
      fc.asyncProperty(anyEvent, async (event) => {
        const res = await fetch(`${srv.url}/v1/telemetry`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(event),
        });
        await res.arrayBuffer();
        if (res.status === 400) {
          refused++;
          assert.equal(hub.buffer.size, 0, 'a refused event is not taken');
          return;
        }
        assert.equal(res.status, 202, `neither 202 nor 400: ${res.status}`);
        accepted++;
        // As the publisher carries it: a task of the buffered readings, decoded by the processor, then stored.
        const { readings } = hub.buffer.take(hub.buffer.size);
        const raw = JSON.stringify({
          id: randomUUID(),
          type: 'telemetry.analyze',
          priority: 50,
          created_at: new Date().toISOString(),
          attempts: 0,
          payload: { readings },
        });
        const decoded = decode(raw);
        assert.equal(decoded.kind, 'ok', JSON.stringify(decoded));
        if (decoded.kind !== 'ok') return;
        assert.equal(decoded.rejected, undefined, 'the processor refuses nothing the hub accepted');
        // Each run stands alone: fast-check repeats ids across runs (shrinking keeps them), and a row an earlier
        // run stored under this id would make this event a duplicate (not stored again) or a second row.
        await pool.query('DELETE FROM readings WHERE event_id = $1', [normalizeEventId(event.event_id)]);
        await handler.handle([{ raw, header: decoded.header, readings: decoded.readings }]);
        const { rows } = await pool.query<{
          device_id: string;
          metric: string;
          ms: number;
          value: number;
          unit: string | null;
          site: string | null;
        }>(
          `SELECT device_id, metric, (extract(epoch FROM event_time) * 1000)::float8 AS ms, value, unit, site
             FROM readings WHERE event_id = $1`,
          [normalizeEventId(event.event_id)],
        );
        assert.equal(rows.length, 1, 'stored once');
        const row = rows[0]!;
        assert.equal(row.device_id, event.device_id.trim(), 'device id as sent (trimmed), not rewritten');
        assert.equal(row.metric, event.metric.trim());
        assert.equal(row.value, event.value === 0 ? 0 : event.value, 'value as sent');
        const sentMs =
          typeof event.event_time === 'number'
            ? event.event_time < 1e11
              ? event.event_time * 1000
              : event.event_time
            : Date.parse(event.event_time);
        // `+ 0`: a time sent as -0 is the epoch, stored as 0 (strict equality tells -0 from 0).
        assert.equal(row.ms, Math.floor(sentMs) + 0, 'event time as sent (to the millisecond)');
        if (event.site?.trim()) assert.equal(row.site, event.site.trim());
      }),
      { numRuns: 400 },
    );
  } finally {
    await srv.close();
  }
  assert.ok(accepted > 50 && refused > 50, `both sides exercised: ${accepted} accepted, ${refused} refused`);
});
