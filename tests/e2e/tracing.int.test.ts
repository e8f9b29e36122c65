import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import {
  OtlpReceiver,
  PostgresServer,
  RedisServer,
  freePort,
  type ReceivedSpan,
  type ServerProcess,
} from '@telemetryhub/testkit';
import { startAppProcess, waitReady } from '../../scripts/local-pipeline.js';

// The real hub and processor, each exporting to a real OTLP/HTTP receiver of the test's own — the hub in protobuf,
// the processor in JSON — carry one reading from an HTTP request that starts a trace to the PostgreSQL commit: the
// receiver must see one trace, every span in it a child of the one before, across both processes and the queue.
test('one trace from the hub’s HTTP request to the processor’s commit, exported over OTLP/HTTP in both encodings', async () => {
  const receiver = await OtlpReceiver.start();
  const redis = await RedisServer.start();
  const postgres = await PostgresServer.start();
  const procs: ServerProcess[] = [];
  try {
    const [processorPort, hubPort] = [await freePort(), await freePort()];
    const base = {
      ...process.env,
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      REDIS_URL: redis.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    };
    procs.push(
      startAppProcess('task-processor', {
        ...base,
        DATABASE_URL: postgres.url,
        PROCESSOR_PORT: String(processorPort),
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      }),
    );
    procs.push(
      startAppProcess('hub', {
        ...base,
        HUB_PORT: String(hubPort),
        SPOOL_DIR: 'off',
        SIM_DEVICES: '0',
        ACCESS_LOG: 'all',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      }),
    );
    const processorUrl = `http://127.0.0.1:${processorPort}`;
    const hubUrl = `http://127.0.0.1:${hubPort}`;
    await waitReady(processorUrl, procs[0]!, 'task-processor', 60_000);
    await waitReady(hubUrl, procs[1]!, 'hub', 60_000);

    // The caller's own span: the hub continues its trace (W3C traceparent header).
    const traceId = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const eventId = randomUUID();
    const res = await fetch(`${hubUrl}/v1/telemetry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${callerSpan}-01` },
      body: JSON.stringify({
        event_id: eventId,
        device_id: 'traced-1',
        metric: 'temperature',
        event_time: new Date().toISOString(),
        value: 21.5,
        unit: 'C',
      }),
    });
    assert.equal(res.status, 202, await res.text());

    const named = (spans: readonly ReceivedSpan[], name: string) => spans.find((s) => s.name === name);
    await receiver.waitFor(
      () => named(receiver.trace(traceId), 'commit') !== undefined,
      30_000,
      'the processor’s commit span is exported in the request’s trace',
    );
    assert.deepEqual(receiver.errors, []);
    const spans = receiver.trace(traceId);
    const span = (name: string, service: string) => {
      const s = named(spans, name);
      assert.ok(s, `span "${name}" in the trace (got ${spans.map((x) => x.name).join(', ')})`);
      assert.equal(s.service, service, `"${name}" comes from ${service}`);
      return s;
    };
    const hub = 'telemetryhub-hub';
    const processor = 'telemetryhub-task-processor';
    const ingest = span('POST /v1/telemetry', hub);
    const bufferWait = span('buffer wait', hub);
    const publish = span('publish tasks', hub);
    const queueWait = span('queue wait', processor);
    const process_ = span('process tasks', processor);
    const fetched = span('fetch', processor);
    const decode = span('decode', processor);
    const handle = span('handle telemetry', processor);
    const commit = span('commit', processor);
    // Each a child of the one before: caller → ingest → publish → process → handle → commit.
    assert.equal(ingest.parentSpanId, callerSpan);
    assert.equal(bufferWait.parentSpanId, ingest.spanId);
    assert.equal(publish.parentSpanId, ingest.spanId);
    assert.equal(queueWait.parentSpanId, publish.spanId);
    assert.equal(process_.parentSpanId, publish.spanId);
    assert.equal(fetched.parentSpanId, process_.spanId);
    assert.equal(decode.parentSpanId, process_.spanId);
    assert.equal(handle.parentSpanId, process_.spanId);
    assert.equal(commit.parentSpanId, handle.spanId);
    // Both encodings were really used: the hub's spans came as protobuf, the processor's as JSON.
    assert.equal(ingest.encoding, 'application/x-protobuf');
    assert.equal(commit.encoding, 'application/json');

    // The reading is stored, and the hub's access log line for the request carries the trace id.
    const db = new pg.Client({ connectionString: postgres.url });
    await db.connect();
    const stored = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM readings WHERE event_id = $1', [
      eventId,
    ]);
    await db.end();
    assert.equal(stored.rows[0]!.n, 1);
    const accessLine = procs[1]!.log.split('\n').find((l) => l.includes('"POST /v1/telemetry 202"'));
    assert.ok(accessLine, 'an access log line for the request');
    assert.equal((JSON.parse(accessLine) as { trace_id?: string }).trace_id, traceId);
  } finally {
    for (const p of procs) await p.stop('SIGTERM');
    await receiver.stop();
    await postgres.stop();
    await redis.stop();
  }
});
