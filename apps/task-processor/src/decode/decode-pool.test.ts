import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createDecodePool } from './decode-pool.js';
import { createTaskDecoder, type DecodedTask } from './task-decoder.js';
import { DevicePseudonymizer } from '../privacy/device-pseudonymizer.js';

const KEY = 'a decode-pool test key of 32+ characters';
const fixture = (name: string) =>
  readFileSync(new URL(`../../../../fixtures/shapes/${name}.json`, import.meta.url), 'utf8');
const task = (device: string, value: number) =>
  JSON.stringify({
    type: 'telemetry.analyze',
    created_at: '2026-01-01T00:00:01Z',
    payload: { device_id: device, timestamp: '2026-01-01T00:00:00Z', temperature: value },
  });
const future = JSON.stringify({
  type: 'telemetry.analyze',
  created_at: '2026-01-01T00:00:01Z',
  payload: { device_id: 'F-1', timestamp: '2099-01-01T00:00:00Z', temperature: 1 },
});

/** Every kind of input: the producers' shapes, good tasks, and each way a task can be refused. */
const RAWS = [
  fixture('task-shape-a'),
  fixture('task-shape-b'),
  fixture('task-numeric-priority'),
  ...Array.from({ length: 25 }, (_, i) => task(`D-${i}`, i)),
  '{"type": "telemetry.analyze", "payload": ', // not JSON
  '[1, 2]', // not an object
  JSON.stringify({
    type: 'telemetry.analyze',
    created_at: '2026-01-01T00:00:01Z',
    payload: { device_id: 'X', timestamp: '2026-01-01T00:00:00Z', temperature: 'hot' },
  }),
  future,
  JSON.stringify({
    type: 'no.such.type',
    created_at: '2026-01-01T00:00:01Z',
    payload: { device_id: 'U', timestamp: '2026-01-01T00:00:00Z', temperature: 1 },
  }),
];

const pool = createDecodePool({ threads: 2, maxFutureSkewMs: 60_000, deviceIdHmacKey: KEY });
after(() => pool.close());

test('the worker-thread pool decodes a batch exactly as the decoder does on the main thread, in order', async () => {
  const inline = createTaskDecoder({ maxFutureSkewMs: 60_000, deviceIdHmacKey: KEY });
  assert.equal(pool.threads, 2);
  const decoded = await pool.decode(RAWS);
  // "is N s in the future" depends on when each side ran: compare everything else exactly.
  const timeless = (d: DecodedTask[]) =>
    JSON.parse(JSON.stringify(d).replace(/is \d+ s in the future/g, 'is N s in the future'));
  assert.deepEqual(timeless(decoded), timeless(RAWS.map(inline)));
  assert.equal(
    decoded.filter((d) => d.kind === 'ok').length,
    RAWS.length - 4,
    'only the four broken tasks are refused',
  );
});

test('each refusal says what is wrong, and keeps the header when the envelope was sound', async () => {
  const [notJson, notObject, badValue, fromTheFuture] = await pool.decode(RAWS.slice(28, 32));
  assert.equal(notJson?.kind, 'invalid_envelope');
  assert.match((notJson as { message: string }).message, /not valid JSON/);
  assert.equal(notObject?.kind, 'invalid_envelope');
  assert.equal(badValue?.kind, 'invalid_payload');
  assert.match((badValue as { message: string }).message, /payload\.temperature/);
  assert.equal(fromTheFuture?.kind, 'invalid_payload');
  assert.match((fromTheFuture as { message: string }).message, /future/);
  assert.equal(badValue.kind === 'invalid_payload' && badValue.header.type, 'telemetry.analyze');
});

test('readings come back pseudonymised, and the payload is not sent back with the header', async () => {
  const [d] = await pool.decode([task('P-secret-1', 3)]);
  assert.equal(d?.kind, 'ok');
  if (d?.kind !== 'ok') return;
  assert.equal(d.readings[0]?.device_id, new DevicePseudonymizer(KEY).deviceId('P-secret-1'));
  assert.equal('payload' in d.header, false);
});

test('a batch is split across the threads; with 0 threads it decodes inline', async () => {
  const before = pool.completedChunks;
  await pool.decode(RAWS.slice(0, 10));
  assert.equal(pool.completedChunks - before, 2, 'one chunk per thread, decoded by the threads');
  const inline = createDecodePool({ threads: 0 });
  const [d] = await inline.decode([task('A', 1)]);
  assert.equal(d?.kind, 'ok');
  assert.equal(inline.completedChunks, 0);
});

test('decoding inline gives the event loop a turn between slices of a batch, and keeps the order', async () => {
  const inline = createDecodePool({ threads: 0 });
  const raws = Array.from({ length: 40 }, (_, i) => task(`S-${i}`, i));
  let finished = false;
  let otherWorkRanDuring: boolean | undefined;
  const decoding = inline.decode(raws).then((d) => ((finished = true), d));
  setImmediate(() => (otherWorkRanDuring = !finished));
  const decoded = await decoding;
  assert.equal(otherWorkRanDuring, true, 'a callback waiting on the event loop ran before the batch was done');
  assert.deepEqual(
    decoded.map((d) => d.kind === 'ok' && d.readings[0]!.device_id),
    raws.map((_, i) => `S-${i}`),
  );
});
