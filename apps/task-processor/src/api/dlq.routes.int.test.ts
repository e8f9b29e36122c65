import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pino } from 'pino';
import { RedisServer } from '@telemetryhub/testkit';
import { hashApiKey, parseApiKeys, problemMiddleware } from '@telemetryhub/service-kit';
import {
  ReliableConsumer,
  RedisListProducer,
  createDeadLetterAdmin,
  createRedis,
  type RedisClient,
  rawText,
} from '@telemetryhub/queue';
import { dlqRouter } from './dlq.routes.js';

const log = pino({ level: 'silent' });
let server: RedisServer;
let redis: RedisClient;
let blocking: RedisClient;
before(async () => {
  server = await RedisServer.start();
  redis = createRedis(server.url);
  blocking = createRedis(server.url, { blocking: true });
});
after(async () => {
  redis.disconnect();
  blocking.disconnect();
  await server.stop();
});

const KEYS = parseApiKeys(`ops:${hashApiKey('the-admin-key')}`, 'ADMIN_API_KEYS');
const task = (i: number, type = 'telemetry.store') => JSON.stringify({ id: `t-${i}`, type, payload: { i } });

async function serve(router: express.Router) {
  const app = express().use(router).use(problemMiddleware(log));
  const http = app.listen(0, '127.0.0.1');
  await new Promise((r) => http.once('listening', r));
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const call = async (path: string, init: RequestInit & { key?: string | null } = {}) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (init.key !== null) headers.authorization = `Bearer ${init.key ?? 'the-admin-key'}`;
    const res = await fetch(base + path, { ...init, headers });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  return { call, close: () => http.close() };
}

/** Dead-letters `n` tasks of queue `q`, the odd ones as poison, the even ones as unknown_type. */
async function deadLetters(q: string, n: number) {
  await new RedisListProducer(redis, q).enqueue(Array.from({ length: n }, (_, i) => task(i)));
  const consumer = new ReliableConsumer(redis, blocking, q);
  for (const t of await consumer.fetch(n, 500)) {
    const i = (JSON.parse(rawText(t.raw)) as { payload: { i: number } }).payload.i;
    await consumer.deadLetter(t.raw, {
      reason: i % 2 ? 'poison' : 'unknown_type',
      message: `task ${i} failed`,
      task_id: `t-${i}`,
      task_type: 'telemetry.store',
      attempts: 1,
      first_failed_at: new Date().toISOString(),
      last_failed_at: new Date().toISOString(),
    });
  }
}

test('without ADMIN_API_KEYS every request is refused (403), naming the setting', async () => {
  const api = await serve(dlqRouter({ dlq: createDeadLetterAdmin(redis, 'dlq-off') }));
  try {
    const r = await api.call('/v1/dlq');
    assert.equal(r.status, 403);
    assert.match(String(r.body.detail), /ADMIN_API_KEYS/);
  } finally {
    api.close();
  }
});

test('with keys: 401 without a valid one; list, inspect, replay (one, by filter) and purge through the queue', async () => {
  const q = 'dlq-admin';
  await deadLetters(q, 5);
  const api = await serve(dlqRouter({ dlq: createDeadLetterAdmin(redis, q), adminKeys: KEYS }));
  try {
    assert.equal((await api.call('/v1/dlq', { key: null })).status, 401);
    assert.equal((await api.call('/v1/dlq', { key: 'a-guess' })).status, 401);

    const all = await api.call('/v1/dlq');
    assert.equal(all.status, 200);
    assert.equal(all.body.count, 5);
    const poison = await api.call('/v1/dlq?reason=poison');
    const ids = (poison.body.entries as Array<{ record: { task_id: string } }>).map((e) => e.record.task_id);
    assert.deepEqual(ids.sort(), ['t-1', 't-3']);

    const one = await api.call('/v1/dlq/0');
    const record = (one.body as { record: { raw: string; reason: string } }).record;
    assert.deepEqual(JSON.parse(record.raw), JSON.parse(task(4)), 'newest first, with the raw task');
    assert.equal((await api.call('/v1/dlq/99')).status, 404);

    const vague = await api.call('/v1/dlq/replay', { method: 'POST', body: '{}' });
    assert.equal(vague.status, 400, 'a replay must say which');
    const replayOne = await api.call('/v1/dlq/replay', { method: 'POST', body: JSON.stringify({ index: 0 }) });
    assert.deepEqual(replayOne.body, { replayed: 1 });
    const replayPoison = await api.call('/v1/dlq/replay', {
      method: 'POST',
      body: JSON.stringify({ reason: 'poison' }),
    });
    assert.deepEqual(replayPoison.body, { replayed: 2 });
    const pending = (await redis.lrange(`${q}:pending`, 0, -1)).map((raw) => (JSON.parse(raw) as { id: string }).id);
    assert.deepEqual(pending.sort(), ['t-1', 't-3', 't-4']);

    assert.equal((await api.call('/v1/dlq/purge', { method: 'POST', body: '{"index":1}' })).status, 400);
    const purged = await api.call('/v1/dlq/purge', { method: 'POST', body: JSON.stringify({ all: true }) });
    assert.deepEqual(purged.body, { purged: 2 });
    assert.equal((await api.call('/v1/dlq')).body.count, 0);
  } finally {
    api.close();
  }
});

test('Redis not answering is a 503, not an internal error', async () => {
  const down = createRedis('redis://127.0.0.1:1', { offlineQueue: false, connectTimeoutMs: 200 });
  const api = await serve(dlqRouter({ dlq: createDeadLetterAdmin(down, 'dlq-down'), adminKeys: KEYS }));
  try {
    const r = await api.call('/v1/dlq');
    assert.equal(r.status, 503);
  } finally {
    api.close();
    down.disconnect();
  }
});
