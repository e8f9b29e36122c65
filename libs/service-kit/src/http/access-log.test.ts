import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import { createLogger } from '../log/logger.js';
import { accessLog, type AccessLogMode } from './access-log.js';
import { problemMiddleware } from './problem.js';

/** An app with the access log over a logger that collects its JSON lines; `use` gets its base URL. */
async function withApp(
  opts: { mode: AccessLogMode; sampleRate: number; random?: () => number },
  use: (base: string, lines: Array<Record<string, unknown>>) => Promise<void>,
): Promise<void> {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const log = createLogger({ service: 'test', version: 't', level: 'info' }, sink);
  const app = express();
  app.use(accessLog(log, opts));
  app.get('/health', (_req, res) => void res.send('ok'));
  app.get('/v1/thing', (_req, res) => {
    res.locals.client = 'key:ops-team';
    res.json({ ok: true });
  });
  app.get('/v1/missing', (_req, res) => void res.status(404).json({ title: 'not found' }));
  app.get('/v1/broken', (_req, res) => void res.status(503).json({ title: 'unavailable' }));
  app.get('/v1/throws', () => {
    throw new Error('a bug');
  });
  app.use(problemMiddleware(log));
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    await use(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, lines);
  } finally {
    server.close();
  }
}

test('one line per request: id, method, path without its query, status, duration, the key’s name only', async () => {
  await withApp({ mode: 'all', sampleRate: 1 }, async (base, lines) => {
    const res = await fetch(`${base}/v1/thing?token=secret`, {
      headers: { 'x-request-id': 'abc-123', 'x-api-key': 'the-key-itself' },
    });
    assert.equal(res.headers.get('x-request-id'), 'abc-123', 'the caller’s id is kept and echoed');
    await fetch(`${base}/health`);
    const minted = await fetch(`${base}/v1/thing`, { headers: { 'x-request-id': 'not a token; <script>' } });
    assert.match(minted.headers.get('x-request-id')!, /^[0-9a-f-]{36}$/, 'an unusable id is replaced');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(lines.length, 2, 'the probe is not logged');
    const [first] = lines;
    assert.equal(first!.level, 'info');
    assert.equal(first!.msg, 'GET /v1/thing 200');
    assert.equal(first!.reqId, 'abc-123');
    assert.deepEqual(first!.req, { method: 'GET', path: '/v1/thing', remote: '127.0.0.1' });
    assert.deepEqual(first!.res, { status: 200 });
    assert.equal(first!.client, 'key:ops-team');
    assert.equal(typeof first!.responseTime, 'number');
    const text = JSON.stringify(lines);
    assert.doesNotMatch(text, /secret|the-key-itself/, 'neither the query nor the key is logged');
  });
});

test('errors always log (5xx as error, 4xx as warn); successes as sampled; `errors` logs only errors', async () => {
  const draws = [0.05, 0.5, 0.05, 0.9];
  await withApp({ mode: 'all', sampleRate: 0.1, random: () => draws.shift() ?? 1 }, async (base, lines) => {
    for (let i = 0; i < 4; i++) await fetch(`${base}/v1/thing`);
    await fetch(`${base}/v1/missing`);
    await fetch(`${base}/v1/broken`);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(
      lines.map((l) => [l.level, (l.res as { status: number }).status]),
      [
        ['info', 200],
        ['info', 200],
        ['warn', 404],
        ['error', 503],
      ],
    );
  });
  await withApp({ mode: 'errors', sampleRate: 1 }, async (base, lines) => {
    await fetch(`${base}/v1/thing`);
    await fetch(`${base}/v1/missing`);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['GET /v1/missing 404'],
    );
  });
});

test('`off` logs nothing but still gives every response its request id', async () => {
  await withApp({ mode: 'off', sampleRate: 1 }, async (base, lines) => {
    const res = await fetch(`${base}/v1/broken`, { headers: { 'x-request-id': 'r-1' } });
    assert.equal(res.headers.get('x-request-id'), 'r-1');
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(lines, []);
  });
});

test('a request that fails logs its error with the same request id as its access line, and no query', async () => {
  await withApp({ mode: 'errors', sampleRate: 0 }, async (base, lines) => {
    const res = await fetch(`${base}/v1/throws?token=secret`, { headers: { 'x-request-id': 'req-500' } });
    assert.equal(res.status, 500);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(
      lines.map((l) => [l.msg, l.reqId]),
      [
        ['request failed', 'req-500'],
        ['GET /v1/throws 500', 'req-500'],
      ],
    );
    assert.equal(lines[0]!.path, '/v1/throws', 'the error line names the path as the access line does');
    assert.doesNotMatch(JSON.stringify(lines), /secret/);
  });
});
