import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * How TelemetryHub signs a webhook, and how a receiver checks it (docs/storage-and-alerts.md, "Alert webhooks"):
 *   X-TelemetryHub-Timestamp: <unix seconds>
 *   X-TelemetryHub-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
 * A receiver recomputes the HMAC over the raw body bytes, compares in constant time, and refuses a timestamp
 * outside its replay window (default 300 s), so a captured request cannot be replayed later.
 */
export const WEBHOOK_HEADERS = {
  timestamp: 'x-telemetryhub-timestamp',
  signature: 'x-telemetryhub-signature',
  delivery: 'x-telemetryhub-delivery',
} as const;

export function signWebhook(secret: string, timestampSeconds: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex')}`;
}

export function verifyWebhook(opts: {
  secret: string;
  body: string;
  timestamp: string | undefined;
  signature: string | undefined;
  nowSeconds?: number;
  windowSeconds?: number;
}): boolean {
  const ts = Number(opts.timestamp);
  if (!opts.signature || !Number.isInteger(ts)) return false;
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - ts) > (opts.windowSeconds ?? 300)) return false;
  const expected = Buffer.from(signWebhook(opts.secret, ts, opts.body));
  const given = Buffer.from(opts.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
