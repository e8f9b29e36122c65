import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseTaskEnvelope } from './task-envelope.schema.js';
import { parseEventsStrict } from './upcast.js';
import { ValidationError } from '@telemetryhub/service-kit';

const raw = (name: string): string =>
  readFileSync(new URL(`../../../fixtures/shapes/${name}.json`, import.meta.url), 'utf8');
const fixedNow = () => new Date('2026-11-23T00:00:00Z');

test('reads task shape A: named priority, max_retries, payload as an object', () => {
  const t = parseTaskEnvelope(raw('task-shape-a'), fixedNow);
  assert.equal(t.id, '0b8e3f52-7c1d-4a6b-9e2f-5d4c3b2a1f00');
  assert.equal(t.type, 'telemetry.analyze');
  assert.equal(t.priority, 90);
  assert.equal(t.max_attempts, 3);
  assert.equal(t.attempts, 0);
  assert.equal(t.created_at, '2025-12-26T10:30:00.000Z');
  assert.equal(parseEventsStrict(t.payload).length, 2);
});

test('reads task shape B: payload as a JSON string, epoch-seconds time, legacy enum priority', () => {
  const t = parseTaskEnvelope(raw('task-shape-b'), fixedNow);
  assert.equal(t.type, 'telemetry.aggregate');
  assert.equal(t.priority, 50, 'priority 1 is NORMAL in the original enum');
  assert.equal(t.created_at, new Date(1766745060 * 1000).toISOString());
  assert.equal(t.attempts, 0);
  const [r] = parseEventsStrict(t.payload);
  assert.equal(r!.metric, 'humidity');
  assert.equal(r!.value, 97.5);
});

test('reads a 0-100 numeric priority as it is', () => {
  const t = parseTaskEnvelope(raw('task-numeric-priority'), fixedNow);
  assert.equal(t.priority, 90);
  assert.equal(t.type, 'telemetry.alert');
});

test('maps the original enum 0/1/2 to HIGH/NORMAL/LOW', () => {
  const p = (priority: unknown) =>
    parseTaskEnvelope(JSON.stringify({ type: 't', priority, payload: {} }), fixedNow).priority;
  assert.deepEqual([p(0), p(1), p(2), p('low'), p(77)], [90, 50, 10, 10, 77]);
});

test('derives a stable id and stamps created_at when a hand-written task leaves them out', () => {
  const text = JSON.stringify({ type: 'telemetry.store', payload: { a: 1 } });
  const a = parseTaskEnvelope(text, fixedNow);
  const b = parseTaskEnvelope(text, fixedNow);
  assert.equal(a.id, b.id);
  assert.equal(a.created_at, '2026-11-23T00:00:00.000Z');
  assert.equal(a.priority, 50);
});

test('rejects invalid JSON, a missing type and a bad payload string with the field named', () => {
  assert.throws(() => parseTaskEnvelope('{nope'), /task is not valid JSON/);
  assert.throws(
    () => parseTaskEnvelope('{"payload":{}}'),
    (e: unknown) => e instanceof ValidationError && e.issues[0]!.path === 'type',
  );
  assert.throws(
    () => parseTaskEnvelope('{"type":"t","payload":"{oops"}'),
    (e: unknown) => e instanceof ValidationError && e.issues[0]!.path === 'payload',
  );
  assert.throws(() => parseTaskEnvelope('{"type":"t","payload":{},"priority":"SOON"}'), /priority: must be 0–100/);
});

test('keeps a well-formed W3C trace context and drops a malformed one without refusing the task', () => {
  const task = (extra: object) =>
    parseTaskEnvelope(JSON.stringify({ type: 'telemetry.store', payload: { readings: [] }, ...extra }), fixedNow);
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const traced = task({ traceparent, tracestate: 'vendor=1' });
  assert.equal(traced.traceparent, traceparent);
  assert.equal(traced.tracestate, 'vendor=1');
  for (const bad of [
    'not-a-traceparent',
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01', // an all-zero trace id is invalid
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
    '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01', // upper case is not the format
    42,
  ]) {
    const t = task({ traceparent: bad, tracestate: 'vendor=1' });
    assert.equal(t.traceparent, undefined, String(bad));
    assert.equal(t.tracestate, undefined, 'no state without a parent');
  }
  assert.equal(task({}).traceparent, undefined);
});
