import { propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { MosquittoServer, until } from '@telemetryhub/testkit';
import { createMetricsRegistry } from '@telemetryhub/service-kit';
import { parseEvents } from '@telemetryhub/schemas';
import { createHubMetrics } from '../metrics/hub-metrics.js';
import { ReadingBuffer, type BufferPolicy } from '../buffer/reading-buffer.js';
import { MqttIngest } from './mqtt-ingest.js';
import { settleAll } from '../buffer/ack-ticket.js';

const SHAPES = new URL('../../../../fixtures/shapes/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, SHAPES), 'utf8');
/** The fixtures that are events (task envelopes are the queue's shapes, not ingest's). */
const eventFixtures = readdirSync(SHAPES)
  .filter((f) => f.endsWith('.json'))
  .filter((f) => parseEvents(JSON.parse(fixture(f))).issues.length === 0);

let broker: MosquittoServer;
let publisher: MqttClient;
before(async () => {
  broker = await MosquittoServer.start();
  publisher = await connectAsync(broker.url, { clientId: 'test-publisher' });
});
after(async () => {
  await publisher.endAsync();
  await broker.stop();
});

let clients = 0;
interface IngestUnderTest {
  capacity?: number;
  policy?: BufferPolicy;
  /** A fixed client id and topic root, for a session that outlives one ingest. */
  session?: { clientId: string; topicRoot: string };
  durableAck?: boolean;
  traced?: boolean;
  protocolVersion?: 4 | 5;
}
async function startIngest({
  capacity = 10_000,
  policy = 'drop-oldest',
  session,
  durableAck = false,
  traced = false,
  protocolVersion,
}: IngestUnderTest = {}) {
  const metrics = createHubMetrics(
    createMetricsRegistry({ service: 'telemetryhub-hub', version: 't', defaultMetrics: false }),
  );
  const buffer = new ReadingBuffer(capacity, policy, metrics, { traced });
  const topicRoot = session?.topicRoot ?? `t${++clients}`;
  const ingest = new MqttIngest({
    url: broker.url,
    topic: `${topicRoot}/#`,
    qos: 1,
    clientId: session?.clientId ?? `hub-under-test-${clients}`,
    buffer,
    metrics,
    log: pino({ level: process.env.TEST_LOG ?? 'silent' }),
    parseOptions: { maxFutureSkewMs: 300_000 },
    durableAck,
    traced,
    ...(protocolVersion ? { protocolVersion } : {}),
  });
  await ingest.start();
  const rejected = async (reason: string) =>
    (await metrics.ingestRejected.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
  return { ingest, buffer, metrics, topicRoot, rejected };
}

test('every event shape producers send is taken in over MQTT, through the same validation as HTTP', async () => {
  assert.ok(eventFixtures.length >= 3, `found event fixtures: ${eventFixtures.join(', ')}`);
  const { ingest, buffer, topicRoot } = await startIngest();
  try {
    let expected = 0;
    for (const name of eventFixtures) {
      const body = fixture(name);
      expected += parseEvents(JSON.parse(body)).readings.length;
      await publisher.publishAsync(`${topicRoot}/site-a/${name}`, body, { qos: 1 });
    }
    await until('every fixture is buffered', () => buffer.size === expected);
    const ids = buffer.take(expected).readings.map((r) => r.event_id);
    assert.equal(new Set(ids).size, expected);
  } finally {
    await ingest.stop();
  }
});

test('bad messages are counted and skipped, and the messages after them still arrive', async () => {
  const { ingest, buffer, topicRoot, rejected } = await startIngest();
  try {
    const good = fixture('http-ingest-original.json');
    const bad = [
      '{"device_id": "d1", "type": "t", ', // malformed JSON
      '{"__proto__": {"polluted": true}, "device_id": "d1", "type": "temperature", "value": 1, "timestamp": "2026-01-01T00:00:00Z"}',
      '{"device_id": "d1", "type": "temperature", "value": 1e999, "timestamp": "2026-01-01T00:00:00Z"}',
      '{"device_id": "d1", "type": "temperature", "value": "hot", "timestamp": "2026-01-01T00:00:00Z"}',
      '{"device_id": "d1", "type": "temperature", "value": 1, "timestamp": "2999-01-01T00:00:00Z"}',
      '{"device_id": "bad\\u0000id", "type": "temperature", "value": 1, "timestamp": "2026-01-01T00:00:00Z"}',
    ];
    const valid = '{"device_id": "d1", "type": "temperature", "value": 1, "timestamp": "2026-01-01T00:00:00Z"}';
    assert.equal(
      parseEvents(JSON.parse(valid)).issues.length,
      0,
      'the bad messages differ from a valid one in one thing',
    );
    for (const body of bad) await publisher.publishAsync(`${topicRoot}/x`, body, { qos: 1 });
    await publisher.publishAsync(`${topicRoot}/x`, good, { qos: 1 });
    await until('the good message after the bad ones arrives', () => buffer.size > 0);
    assert.equal(buffer.size, parseEvents(JSON.parse(good)).readings.length);
    assert.equal(await rejected('mqtt_malformed'), 2, 'broken JSON and a __proto__ key');
    assert.equal(await rejected('mqtt_invalid'), 4, 'Infinity, a string value, a far-future time, a NUL in an id');
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
  } finally {
    await ingest.stop();
  }
});

test('under the reject policy a full buffer is backpressure: messages wait at the broker, none is lost', async () => {
  const { ingest, buffer, topicRoot } = await startIngest({ capacity: 4, policy: 'reject' });
  try {
    const sent: string[] = [];
    for (let i = 0; i < 12; i++) {
      const event = {
        device_id: 'bp-1',
        type: 'temperature',
        value: i,
        timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
      };
      sent.push(event.timestamp);
      await publisher.publishAsync(`${topicRoot}/bp`, JSON.stringify(event), { qos: 1 });
    }
    await until('the buffer fills', () => buffer.size === 4);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(buffer.size, 4, 'nothing more is taken while the buffer is full');
    const got: string[] = [];
    await until('every message has arrived', () => {
      got.push(...buffer.take(2).readings.map((r) => r.event_time));
      return got.length === 12;
    });
    assert.deepEqual(got, sent, 'all twelve, in order');
  } finally {
    await ingest.stop();
  }
});

for (const protocolVersion of [4, 5] as const) {
  test(`messages sent while the hub is down wait in its broker session and arrive when it is back (MQTT ${protocolVersion === 5 ? '5' : '3.1.1'})`, async () => {
    const session = { clientId: `hub-restarting-${protocolVersion}`, topicRoot: `restart${protocolVersion}` };
    const first = await startIngest({ capacity: 100, session, protocolVersion });
    await first.ingest.stop();
    for (let i = 0; i < 3; i++) {
      const event = { device_id: 'r-1', type: 'temperature', value: i, timestamp: `2026-01-01T00:00:0${i}Z` };
      await publisher.publishAsync(`${session.topicRoot}/r-1`, JSON.stringify(event), { qos: 1 });
    }
    const second = await startIngest({ capacity: 100, session, protocolVersion });
    try {
      await until('the queued messages arrive', () => second.buffer.size === 3);
      assert.deepEqual(
        second.buffer.take(3).readings.map((r) => r.value),
        [0, 1, 2],
      );
    } finally {
      await second.ingest.stop();
    }
  });
}

test('with a durable ack a message is acknowledged only once its readings are durable; one lost first is delivered again', async () => {
  const { ingest, buffer, topicRoot } = await startIngest({ durableAck: true });
  try {
    const event = fixture('event-v2.json');
    await publisher.publishAsync(`${topicRoot}/a`, event, { qos: 1 });
    await until('buffered', async () => buffer.size === 1);
    // Lost before it was durable (as a full ring evicts it): no PUBACK, so the broker sends it again.
    const first = buffer.take(1);
    for (const t of first.tickets) t?.fail('evicted');
    await until('delivered again', async () => buffer.size === 1, 15_000);
    // Durable this time (as the publisher settles it once Redis has it): acknowledged, never sent a third time.
    settleAll(buffer.take(1).tickets);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(buffer.size, 0, 'not delivered again once acknowledged');
    assert.deepEqual(first.readings.length, 1);
  } finally {
    await ingest.stop();
  }
});

test('traced, each message is a receive span that its buffered readings carry to the publisher', async () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider);
  const { ingest, buffer, topicRoot } = await startIngest({ capacity: 100, traced: true });
  try {
    await publisher.publishAsync(`${topicRoot}/site-a/x`, fixture(eventFixtures[0]!), { qos: 1 });
    await until('the message is buffered', () => buffer.size > 0);
    const { origins } = buffer.take(100);
    assert.ok(origins?.length && origins.every((o) => o === origins[0]), 'one origin for the message’s readings');
    const spanContext = trace.getSpanContext(origins[0]!.context);
    await until('the receive span ended', () => exporter.getFinishedSpans().length > 0);
    const [span] = exporter.getFinishedSpans();
    assert.equal(span!.name, `receive ${topicRoot}/#`);
    assert.equal(span!.spanContext().spanId, spanContext?.spanId, 'the buffered origin is the message’s span');
    assert.equal(span!.attributes['messaging.destination.name'], `${topicRoot}/site-a/x`);
  } finally {
    await ingest.stop();
    await provider.shutdown();
    trace.disable();
  }
});

test('traced over MQTT 5, a message carrying its publisher’s traceparent continues that trace; one without starts its own', async () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider);
  // The hub's tracing set-up installs the W3C propagator; this test has only the provider.
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const v5 = await connectAsync(broker.url, { clientId: 'test-publisher-v5', protocolVersion: 5 });
  const { ingest, buffer, topicRoot } = await startIngest({ capacity: 100, traced: true, protocolVersion: 5 });
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const parentSpanId = '00f067aa0ba902b7';
  try {
    const event = fixture(eventFixtures[0]!);
    await v5.publishAsync(`${topicRoot}/a`, event, {
      qos: 1,
      properties: { userProperties: { traceparent: `00-${traceId}-${parentSpanId}-01`, tracestate: 'vendor=1' } },
    });
    await v5.publishAsync(`${topicRoot}/b`, event, { qos: 1 });
    await v5.publishAsync(`${topicRoot}/c`, event, {
      qos: 1,
      properties: { userProperties: { traceparent: 'not-a-traceparent' } },
    });
    await until('three receive spans ended', () => exporter.getFinishedSpans().length === 3);
    const spans = new Map(
      exporter.getFinishedSpans().map((s) => [String(s.attributes['messaging.destination.name']), s]),
    );
    const continued = spans.get(`${topicRoot}/a`)!;
    assert.equal(continued.spanContext().traceId, traceId, 'the publisher’s trace');
    assert.equal(continued.parentSpanContext?.spanId, parentSpanId, 'a child of the publisher’s span');
    assert.equal(continued.spanContext().traceState?.get('vendor'), '1');
    for (const own of [spans.get(`${topicRoot}/b`)!, spans.get(`${topicRoot}/c`)!]) {
      assert.notEqual(own.spanContext().traceId, traceId);
      assert.equal(own.parentSpanContext, undefined, 'a trace of its own');
    }
    assert.ok(buffer.size > 0);
  } finally {
    await v5.endAsync();
    await ingest.stop();
    await provider.shutdown();
    trace.disable();
    propagation.disable();
  }
});
