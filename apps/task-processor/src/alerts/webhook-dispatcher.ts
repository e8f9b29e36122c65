import type pg from 'pg';
import type { Logger } from 'pino';
import { PeriodicTask, WEBHOOK_HEADERS, briefError, signWebhook } from '@telemetryhub/service-kit';
import type { ProcessorMetrics } from '../metrics/processor-metrics.js';

export interface WebhookDispatcherOptions {
  pool: pg.Pool;
  secret: string;
  log: Logger;
  metrics: ProcessorMetrics;
  intervalMs?: number;
  /** Per request. */
  timeoutMs?: number;
  /** Deliveries before a notification is given up (kept, with its last error). */
  maxAttempts?: number;
  /** Backoff: base·2^(attempt−1), capped. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** How long a claimed row is ours before another replica may take it (a crash mid-send). */
  leaseMs?: number;
  fetchImpl?: typeof fetch;
}

interface Claimed {
  id: string;
  url: string;
  payload: unknown;
  attempts: number;
}

/**
 * Sends queued alert webhooks: claims due rows (FOR UPDATE SKIP LOCKED, then a lease), POSTs each signed body
 * outside any transaction, then marks it delivered, or schedules a retry with backoff, or gives up after
 * `maxAttempts`. At-least-once: a receiver dedups on the X-TelemetryHub-Delivery header.
 */
export class WebhookDispatcher {
  private readonly periodic: PeriodicTask;

  constructor(private readonly o: WebhookDispatcherOptions) {
    this.periodic = new PeriodicTask(
      () => this.runOnce(),
      o.intervalMs ?? 1000,
      (err) => o.log.warn({ err: briefError(err) }, 'webhook round failed'),
    );
  }

  start(): void {
    this.periodic.start();
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  /** One round: claim due notifications and try each once. Returns how many were delivered. */
  async runOnce(): Promise<number> {
    const leaseMs = this.o.leaseMs ?? 60_000;
    const { rows } = await this.o.pool.query<Claimed>(
      `UPDATE alert_notifications SET next_attempt_at = now() + make_interval(secs => $1)
        WHERE id IN (SELECT id FROM alert_notifications
                      WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= now()
                      ORDER BY id LIMIT 50 FOR UPDATE SKIP LOCKED)
        RETURNING id::text, url, payload, attempts`,
      [leaseMs / 1000],
    );
    let delivered = 0;
    for (const n of rows) if (await this.send(n)) delivered++;
    return delivered;
  }

  private async send(n: Claimed): Promise<boolean> {
    const body = JSON.stringify(n.payload);
    const ts = Math.floor(Date.now() / 1000);
    const attempt = n.attempts + 1;
    let error: string | null = null;
    try {
      const res = await (this.o.fetchImpl ?? fetch)(n.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [WEBHOOK_HEADERS.timestamp]: String(ts),
          [WEBHOOK_HEADERS.signature]: signWebhook(this.o.secret, ts, body),
          [WEBHOOK_HEADERS.delivery]: n.id,
        },
        body,
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 5000),
      });
      if (!res.ok) error = `HTTP ${res.status}`;
    } catch (err) {
      error = (err as Error).message;
    }
    if (!error) {
      await this.o.pool.query('UPDATE alert_notifications SET delivered_at = now(), attempts = $2 WHERE id = $1', [
        n.id,
        attempt,
      ]);
      this.o.metrics.webhooks.inc({ outcome: 'delivered' });
      return true;
    }
    const giveUp = attempt >= (this.o.maxAttempts ?? 10);
    const delayMs = Math.min(this.o.retryMaxMs ?? 300_000, (this.o.retryBaseMs ?? 1000) * 2 ** (attempt - 1));
    await this.o.pool.query(
      `UPDATE alert_notifications
          SET attempts = $2, last_error = $3,
              gave_up_at = CASE WHEN $4 THEN now() END,
              next_attempt_at = now() + make_interval(secs => $5)
        WHERE id = $1`,
      [n.id, attempt, error, giveUp, delayMs / 1000],
    );
    this.o.metrics.webhooks.inc({ outcome: giveUp ? 'gave_up' : 'retried' });
    this.o.log.warn({ notification: n.id, url: n.url, attempt, error, giveUp }, 'alert webhook failed');
    return false;
  }
}
