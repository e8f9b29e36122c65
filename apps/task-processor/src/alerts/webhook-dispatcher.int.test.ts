import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { pino } from 'pino';
import { PostgresServer } from '@telemetryhub/testkit';
import { WEBHOOK_HEADERS, createMetricsRegistry, verifyWebhook } from '@telemetryhub/service-kit';
import { parseEventsStrict, parseTaskEnvelope } from '@telemetryhub/schemas';
import { createPgPool } from '../store/pool.js';
import { migrate } from '@telemetryhub/migrations';
import { createProcessorMetrics } from '../metrics/processor-metrics.js';
import { createTelemetryHandler } from '../handlers/telemetry.handler.js';
import { WebhookDispatcher } from './webhook-dispatcher.js';

const log = pino({ level: 'silent' });
const SECRET = 'webhook-secret-for-tests';
let pg_: PostgresServer;
let pool: pg.Pool;
let receiver: Server;
let url: string;
const received: Array<{ body: string; valid: boolean; delivery: string }> = [];
let failNext = 0;

before(async () => {
  pg_ = await PostgresServer.start();
  pool = createPgPool(pg_.url, { max: 4, statementTimeoutMs: 10_000 }, log);
  await migrate(pool, log);
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      // The receiver's side of the documented recipe.
      const valid = verifyWebhook({
        secret: SECRET,
        body,
        timestamp: req.headers[WEBHOOK_HEADERS.timestamp] as string | undefined,
        signature: req.headers[WEBHOOK_HEADERS.signature] as string | undefined,
      });
      received.push({ body, valid, delivery: String(req.headers[WEBHOOK_HEADERS.delivery]) });
      res.statusCode = failNext-- > 0 ? 500 : 204;
      res.end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
});
after(async () => {
  await new Promise((r) => receiver.close(r));
  await pool.end();
  await pg_.stop();
});

const metrics = () =>
  createProcessorMetrics(
    createMetricsRegistry({ service: 'telemetryhub-task-processor', version: 't', defaultMetrics: false }),
  );
const alertTask = (device: string, value: number) => {
  const raw = JSON.stringify({
    type: 'telemetry.alert',
    payload: { device_id: device, timestamp: 1767000000, voltage: value },
  });
  const { payload, ...header } = parseTaskEnvelope(raw);
  return { raw, header, readings: parseEventsStrict(payload) };
};
const dispatcher = (maxAttempts: number) =>
  new WebhookDispatcher({ pool, secret: SECRET, log, metrics: metrics(), retryBaseMs: 1, retryMaxMs: 1, maxAttempts });
const outbox = async (device: string) =>
  (
    await pool.query<{ attempts: number; delivered: boolean; gave_up: boolean; last_error: string | null }>(
      `SELECT n.attempts, n.delivered_at IS NOT NULL AS delivered, n.gave_up_at IS NOT NULL AS gave_up, n.last_error
         FROM alert_notifications n JOIN alerts a ON a.id = n.alert_id WHERE a.device_id = $1`,
      [device],
    )
  ).rows;

test('an alert change is queued with the alert, signed by the documented recipe, retried until delivered', async () => {
  const handler = createTelemetryHandler({ pool, log, metrics: metrics(), webhookUrls: [url] });
  await handler.handle([alertTask('HOOK-1', 2.5)]);
  assert.equal((await outbox('HOOK-1')).length, 1, 'queued in the alert’s transaction');
  failNext = 2;
  const d = dispatcher(10);
  for (let i = 0; i < 3; i++) {
    await d.runOnce();
    await new Promise((r) => setTimeout(r, 20));
  }
  const [row] = await outbox('HOOK-1');
  assert.deepEqual([row!.attempts, row!.delivered], [3, true]);
  const mine = received.filter((r) => r.body.includes('HOOK-1'));
  assert.equal(mine.length, 3);
  assert.ok(
    mine.every((r) => r.valid),
    'every request verifies with the recipe',
  );
  assert.equal(new Set(mine.map((r) => r.delivery)).size, 1, 'one delivery id, for receivers to dedup');
  const payload = JSON.parse(mine[0]!.body) as {
    event: string;
    alert: { metric: string; value: number; state: string };
  };
  assert.deepEqual(
    [payload.event, payload.alert.metric, payload.alert.value, payload.alert.state],
    ['alert.fired', 'voltage', 2.5, 'firing'],
  );
  assert.equal(await d.runOnce(), 0, 'a delivered notification is not sent again');
});

test('a receiver that keeps failing is given up after max attempts, with the last error kept', async () => {
  const handler = createTelemetryHandler({ pool, log, metrics: metrics(), webhookUrls: [url] });
  await handler.handle([alertTask('HOOK-2', 2.0)]);
  failNext = 100;
  const d = dispatcher(2);
  for (let i = 0; i < 4; i++) {
    await d.runOnce();
    await new Promise((r) => setTimeout(r, 20));
  }
  failNext = 0;
  assert.deepEqual(await outbox('HOOK-2'), [{ attempts: 2, delivered: false, gave_up: true, last_error: 'HTTP 500' }]);
});
