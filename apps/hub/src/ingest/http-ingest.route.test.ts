import { hashApiKey, parseApiKeys } from '@telemetryhub/service-kit';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { connect } from 'node:net';
import { pino } from 'pino';
import { buildTestHub, listen } from '../app.test-support.js';

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../../../fixtures/shapes/${name}.json`, import.meta.url), 'utf8'));

type ResponseBody = { errors: Array<{ path: string }>; status: number; type: string } & Record<string, unknown>;

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    headers: res.headers,
    body: (await res.json()) as ResponseBody,
  };
}

test('accepts every producer shape, alone and in a batch, with 202 and counts', async () => {
  const hub = buildTestHub();
  const srv = await listen(hub.app);
  try {
    for (const name of ['event-v2', 'gateway-sample-multi', 'http-ingest-original']) {
      const r = await post(`${srv.url}/v1/telemetry`, fixture(name));
      assert.equal(r.status, 202, name);
    }
    const batch = await post(`${srv.url}/telemetry`, [fixture('event-v2'), fixture('gateway-sample-multi')]);
    assert.equal(batch.status, 202);
    assert.deepEqual(batch.body, { accepted_events: 2, accepted_readings: 6 });
    assert.equal(batch.headers.get('etag'), null, 'no ETag: nothing the hub serves is cached');
    assert.equal(hub.buffer.size, 1 + 5 + 1 + 6);
    const text = await (await fetch(`${srv.url}/metrics`)).text();
    assert.match(text, /telemetryhub_hub_readings_total\{source="http"\} 13\n/);
    assert.doesNotMatch(text, /metric="/, 'no label takes its value from what a client sent');
  } finally {
    await srv.close();
  }
});

test('answers 400 problem+json naming each bad field, and takes none of the batch', async () => {
  const hub = buildTestHub();
  const srv = await listen(hub.app);
  try {
    const bad = { ...(fixture('event-v2') as object), value: 'warm' };
    const r = await post(`${srv.url}/v1/telemetry`, { events: [fixture('event-v2'), bad] });
    assert.equal(r.status, 400);
    assert.match(r.type, /application\/problem\+json/);
    assert.deepEqual(
      r.body.errors.map((e) => e.path),
      ['events[1].value'],
    );
    assert.equal(r.body.status, 400);
    assert.equal(hub.buffer.size, 0);
  } finally {
    await srv.close();
  }
});

test('takes readings in columns as a body too: 202 with counts, or 400 naming the column and index', async () => {
  const hub = buildTestHub();
  const srv = await listen(hub.app);
  try {
    const columns = {
      event_id: ['e-1', 'e-2'],
      device_id: ['d-1', 'd-2'],
      metric: ['temperature', 'humidity'],
      event_time: ['2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z'],
      value: [21.5, 40],
    };
    const ok = await post(`${srv.url}/v1/telemetry`, { columns });
    assert.equal(ok.status, 202);
    assert.deepEqual(ok.body, { accepted_events: 2, accepted_readings: 2 });
    const bad = await post(`${srv.url}/v1/telemetry`, { columns: { ...columns, value: [21.5, 'warm'] } });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      bad.body.errors.map((e) => e.path),
      ['columns.value[1]'],
    );
    const ragged = await post(`${srv.url}/v1/telemetry`, { columns: { ...columns, value: [21.5] } });
    assert.deepEqual(
      ragged.body.errors.map((e) => e.path),
      ['columns.value'],
    );
    assert.equal(hub.buffer.size, 2, 'only the good body was taken');
  } finally {
    await srv.close();
  }
});

test('refuses a NUL character in any string of a good-looking event, naming the field (PostgreSQL refuses NUL)', async () => {
  const hub = buildTestHub();
  const srv = await listen(hub.app);
  try {
    const good = fixture('http-ingest-original') as Record<string, unknown>;
    for (const [bad, path] of [
      [{ ...good, device_id: 'sensor\u000042' }, '[1].device_id'],
      [{ ...good, metadata: { location: 'zone-3', tags: ['ok', 'b\u0000d'] } }, '[1].metadata.tags[1]'],
      [{ ...good, stray: 'x\u0000' }, '[1].stray'],
    ] as const) {
      const r = await post(`${srv.url}/v1/telemetry`, [good, bad]);
      assert.equal(r.status, 400, path);
      assert.deepEqual(
        r.body.errors.map((e) => e.path),
        [path],
      );
    }
    assert.equal(hub.buffer.size, 0);
  } finally {
    await srv.close();
  }
});

test('answers 400 for a body that is not JSON and 413 for one over the limit', async () => {
  const hub = buildTestHub({ bodyLimitBytes: 1024 });
  const srv = await listen(hub.app);
  try {
    const notJson = await post(`${srv.url}/v1/telemetry`, '{"device_id":');
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body.type, 'urn:telemetryhub:error:invalid_json');
    const poisoned = await post(
      `${srv.url}/v1/telemetry`,
      '{"device_id":"d1","type":"temperature","value":1,"timestamp":"2026-01-01T00:00:00Z","__proto__":{"x":1}}',
    );
    assert.equal(poisoned.status, 400, 'a __proto__ key is refused');
    assert.equal(poisoned.body.type, 'urn:telemetryhub:error:invalid_json');
    assert.equal(hub.buffer.size, 0);
    const big = Array.from({ length: 50 }, () => fixture('event-v2'));
    const tooLarge = await post(`${srv.url}/v1/telemetry`, big);
    assert.equal(tooLarge.status, 413);
    assert.match(tooLarge.type, /problem\+json/);
  } finally {
    await srv.close();
  }
});

test('under the reject policy a full buffer answers 503 with Retry-After and /ready turns false', async () => {
  const hub = buildTestHub({ capacity: 2, policy: 'reject' });
  hub.readiness.register('buffer', async () => {
    if (hub.buffer.isRefusing) throw new Error('full');
  });
  const srv = await listen(hub.app);
  try {
    assert.equal((await post(`${srv.url}/v1/telemetry`, [fixture('event-v2'), fixture('event-v2')])).status, 202);
    const r = await post(`${srv.url}/v1/telemetry`, fixture('event-v2'));
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.equal((await fetch(`${srv.url}/ready`)).status, 503);
    const text = await (await fetch(`${srv.url}/metrics`)).text();
    assert.match(text, /telemetryhub_hub_buffer_dropped_readings_total\{reason="rejected"\} 1/);
  } finally {
    await srv.close();
  }
});

test('serves /health, Prometheus /metrics and a problem+json 404', async () => {
  const hub = buildTestHub();
  const srv = await listen(hub.app);
  try {
    assert.deepEqual(await (await fetch(`${srv.url}/health`)).json(), { status: 'ok' });
    const metrics = await fetch(`${srv.url}/metrics`);
    assert.match(metrics.headers.get('content-type') ?? '', /text\/plain/);
    assert.match(await metrics.text(), /telemetryhub_hub_buffer_capacity_readings 1000/);
    const missing = await fetch(`${srv.url}/nope`);
    assert.equal(missing.status, 404);
    assert.match(missing.headers.get('content-type') ?? '', /problem\+json/);
  } finally {
    await srv.close();
  }
});

test('with API keys configured: 401 problem+json without a valid key, 202 with one (Bearer or X-API-Key)', async () => {
  const hub = buildTestHub({
    apiKeys: parseApiKeys(`plant-a:${hashApiKey('s3cret-a')},plant-b:${hashApiKey('s3cret-b')}`),
  });
  const srv = await listen(hub.app);
  try {
    const none = await post(`${srv.url}/v1/telemetry`, fixture('event-v2'));
    assert.equal(none.status, 401);
    assert.match(none.type, /problem\+json/);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal(
      (await post(`${srv.url}/v1/telemetry`, fixture('event-v2'), { authorization: 'Bearer nope' })).status,
      401,
    );
    assert.equal(
      (await post(`${srv.url}/v1/telemetry`, fixture('event-v2'), { authorization: 'Bearer s3cret-b' })).status,
      202,
    );
    assert.equal((await post(`${srv.url}/telemetry`, fixture('event-v2'), { 'x-api-key': 's3cret-a' })).status, 202);
    const text = await (await fetch(`${srv.url}/metrics`)).text();
    assert.match(text, /telemetryhub_hub_ingest_rejected_events_total\{reason="unauthorized"\} 2/);
    assert.equal(hub.buffer.size, 2);
  } finally {
    await srv.close();
  }
});

test('past the rate limit: 429 problem+json with Retry-After, per client', async () => {
  let now = 0;
  const hub = buildTestHub({
    apiKeys: parseApiKeys(`a:${hashApiKey('ka')},b:${hashApiKey('kb')}`),
    rateLimit: { perSecond: 0.5, burst: 2 },
    clock: () => now,
  });
  const srv = await listen(hub.app);
  try {
    const send = (key: string) => post(`${srv.url}/v1/telemetry`, fixture('event-v2'), { 'x-api-key': key });
    assert.deepEqual([(await send('ka')).status, (await send('ka')).status], [202, 202]);
    const limited = await send('ka');
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '2');
    assert.equal(limited.body.type, 'urn:telemetryhub:error:rate_limited');
    assert.equal((await send('kb')).status, 202, 'another key has its own bucket');
    now += 2000;
    assert.equal((await send('ka')).status, 202, 'a token came back');
  } finally {
    await srv.close();
  }
});

test('refuses an event from a device whose clock runs ahead, naming the field', async () => {
  const hub = buildTestHub({ maxFutureSkewSeconds: 300 });
  const srv = await listen(hub.app);
  try {
    const future = {
      ...(fixture('http-ingest-original') as object),
      timestamp: new Date(Date.now() + 3_600_000).toISOString(),
    };
    const r = await post(`${srv.url}/v1/telemetry`, future);
    assert.equal(r.status, 400);
    assert.deepEqual(
      r.body.errors.map((e) => e.path),
      ['timestamp'],
    );
    assert.equal(hub.buffer.size, 0);
  } finally {
    await srv.close();
  }
});

test('with CLOCK_SKEW_POLICY=clamp, a skewed event is accepted at the hub time and counted per device', async () => {
  const hub = buildTestHub({ maxFutureSkewSeconds: 300, skewPolicy: 'clamp' });
  const srv = await listen(hub.app);
  try {
    const original = fixture('http-ingest-original') as { device_id: string };
    const before = Date.now();
    const future = { ...original, timestamp: new Date(before + 3_600_000).toISOString() };
    assert.equal((await post(`${srv.url}/v1/telemetry`, future)).status, 202);
    assert.equal((await post(`${srv.url}/v1/telemetry`, future)).status, 202);
    const taken = hub.buffer.take(10).readings;
    assert.equal(taken.length, 2);
    for (const r of taken) {
      const t = Date.parse(r.event_time);
      assert.ok(t >= before && t <= Date.now(), `clamped to the hub's now, got ${r.event_time}`);
    }
    const table = (await (await fetch(`${srv.url}/v1/clock-skew`)).json()) as {
      devices: Array<{ device_id: string; clamped: number; rejected: number; max_ahead_seconds: number }>;
    };
    assert.equal(table.devices.length, 1);
    assert.equal(table.devices[0]?.device_id, original.device_id);
    assert.equal(table.devices[0]?.clamped, 2);
    assert.equal(table.devices[0]?.rejected, 0);
    assert.ok(Math.abs(table.devices[0]!.max_ahead_seconds - 3600) <= 2);
    const metric = await hub.registry.getSingleMetricAsString('telemetryhub_hub_clock_skew_events_total');
    assert.match(metric, /action="clamped"} 2/);
  } finally {
    await srv.close();
  }
});

test('client mistakes below the routes are 4xx problem+json, never 500: bad percent-encoding, a body not in its Content-Encoding', async () => {
  const hub = buildTestHub();
  const srv = await listen(hub.app);
  try {
    const badPath = await fetch(`${srv.url}/v1/devices/%E0%A4%A/status`);
    assert.equal(badPath.status, 400);
    assert.match(badPath.headers.get('content-type') ?? '', /application\/problem\+json/);
    for (const encoding of ['br', 'gzip', 'deflate']) {
      const res = await fetch(`${srv.url}/v1/telemetry`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': encoding },
        body: 'this is not compressed',
      });
      assert.ok(res.status >= 400 && res.status < 500, `${encoding}: ${res.status}`);
      assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
      await res.arrayBuffer();
    }
  } finally {
    await srv.close();
  }
});

test('a body of 10,000 bad events gets the first 100 problems and their total, not a reply larger than the body', async () => {
  const hub = buildTestHub({ bodyLimitBytes: 2 * 1024 * 1024 });
  const srv = await listen(hub.app);
  try {
    const events = Array.from({ length: 10_000 }, () => ({ device_id: 'd', metric: 't', value: 'x' }));
    const body = JSON.stringify(events);
    const res = await fetch(`${srv.url}/v1/telemetry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const text = await res.text();
    assert.equal(res.status, 400);
    const problem = JSON.parse(text) as { errors: unknown[]; errors_total: number };
    assert.equal(problem.errors.length, 100);
    assert.ok(problem.errors_total >= 10_000, `errors_total ${problem.errors_total}`);
    assert.ok(text.length < 20_000, `${text.length} bytes of reply to ${body.length} bytes of body`);
  } finally {
    await srv.close();
  }
});

test('clients hanging up mid-body are not server errors: nothing at error level, one info line per 10 s at most', async () => {
  const lines: Array<{ level: number; msg: string; suppressed?: number }> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const hub = buildTestHub({ log });
  const srv = await listen(hub.app);
  try {
    const { port } = new URL(srv.url);
    for (let i = 0; i < 20; i++) {
      const socket = connect(Number(port), '127.0.0.1');
      await once(socket, 'connect');
      socket.write(
        'POST /v1/telemetry HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{"de',
      );
      await new Promise((r) => setTimeout(r, 20));
      socket.destroy();
    }
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(
      lines.filter((l) => l.level >= 50),
      [],
      'no error lines',
    );
    assert.ok(lines.filter((l) => l.msg === 'client error').length <= 1, JSON.stringify(lines));
  } finally {
    await srv.close();
  }
});
