import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '@telemetryhub/service-kit';
import { defaultDecodeThreads } from './decode/decode-pool.js';
import { loadProcessorConfig } from './config.js';

test('webhook URLs need a secret, and bad URLs are named', () => {
  assert.throws(
    () => loadProcessorConfig({ env: { ALERT_WEBHOOK_URLS: 'https://hooks.example/a' } }),
    /ALERT_WEBHOOK_SECRET: is required/,
  );
  assert.throws(
    () => loadProcessorConfig({ env: { ALERT_WEBHOOK_URLS: 'not a url', ALERT_WEBHOOK_SECRET: 'x'.repeat(16) } }),
    (err: unknown) => err instanceof ConfigError && err.problems[0]!.startsWith('ALERT_WEBHOOK_URLS'),
  );
  const c = loadProcessorConfig({
    env: { ALERT_WEBHOOK_URLS: 'https://a.example/h, https://b.example/h', ALERT_WEBHOOK_SECRET: 'x'.repeat(16) },
  });
  assert.deepEqual(c.ALERT_WEBHOOK_URLS, ['https://a.example/h', 'https://b.example/h']);
});

test('has the documented defaults', () => {
  const c = loadProcessorConfig({ env: {} });
  assert.deepEqual(
    [
      c.PROCESSOR_PORT,
      c.FETCH_BATCH_SIZE,
      c.MAX_ATTEMPTS,
      c.CONSUMER_LEASE_MS,
      c.CONSUMER_CONCURRENCY,
      c.ALERT_WEBHOOK_URLS,
    ],
    [8081, 100, 5, 30_000, 3, []],
  );
});

test('a pseudonymisation key shorter than 32 characters is refused, naming the variable', () => {
  assert.throws(() => loadProcessorConfig({ env: { DEVICE_ID_HMAC_KEY: 'too short' } }), /DEVICE_ID_HMAC_KEY/);
  assert.equal(loadProcessorConfig({ env: { DEVICE_ID_HMAC_KEY: 'k'.repeat(32) } }).DEVICE_ID_HMAC_KEY, 'k'.repeat(32));
  assert.equal(loadProcessorConfig({ env: {} }).DEVICE_ID_HMAC_KEY, undefined);
});

test('worker threads default to none up to 2 cores and one per core beyond, 0 decodes inline, a negative count is refused by name', () => {
  assert.equal(loadProcessorConfig({ env: {} }).WORKER_THREADS, defaultDecodeThreads(availableParallelism()));
  assert.deepEqual(
    [1, 2, 3, 8].map((cores) => defaultDecodeThreads(cores)),
    [0, 0, 3, 8],
  );
  assert.equal(loadProcessorConfig({ env: { WORKER_THREADS: '0' } }).WORKER_THREADS, 0);
  assert.throws(
    () => loadProcessorConfig({ env: { WORKER_THREADS: '-1' } }),
    (err: unknown) => err instanceof ConfigError && err.problems[0]!.startsWith('WORKER_THREADS'),
  );
});

test('the queue driver is redis-list unless QUEUE_DRIVER names bullmq; anything else is refused by name', () => {
  assert.equal(loadProcessorConfig({ env: {} }).QUEUE_DRIVER, 'redis-list');
  assert.equal(loadProcessorConfig({ env: { QUEUE_DRIVER: 'bullmq' } }).QUEUE_DRIVER, 'bullmq');
  assert.throws(
    () => loadProcessorConfig({ env: { QUEUE_DRIVER: 'kafka' } }),
    (err: unknown) => err instanceof ConfigError && err.problems[0]!.startsWith('QUEUE_DRIVER'),
  );
});

test('retention defaults to 30 days raw and 2 years of rollups; the expiry horizon may not outlive raw partitions', () => {
  const c = loadProcessorConfig({ env: {} });
  assert.deepEqual(
    [
      c.RAW_RETENTION_DAYS,
      c.ROLLUP_RETENTION_DAYS,
      c.PARTITION_AHEAD_DAYS,
      c.EXPIRY_HORIZON_DAYS,
      c.ALLOWED_LATENESS_MS,
    ],
    [30, 730, 3, undefined, 30_000],
  );
  assert.equal(loadProcessorConfig({ env: { EXPIRY_HORIZON_DAYS: '7' } }).EXPIRY_HORIZON_DAYS, 7);
  assert.throws(
    () => loadProcessorConfig({ env: { EXPIRY_HORIZON_DAYS: '31' } }),
    /EXPIRY_HORIZON_DAYS: must not exceed RAW_RETENTION_DAYS \(30\)/,
  );
  assert.throws(() => loadProcessorConfig({ env: { RAW_RETENTION_DAYS: '0' } }), /RAW_RETENTION_DAYS/);
  // The old name is refused with the new one, not ignored (which would quietly bring back the default horizon).
  assert.throws(
    () => loadProcessorConfig({ env: { LATE_HORIZON_DAYS: '7' } }),
    /LATE_HORIZON_DAYS: renamed EXPIRY_HORIZON_DAYS/,
  );
});

test('the fold may hold batches at most half the orphan age, so a live processor’s batches are not swept', () => {
  assert.throws(
    () => loadProcessorConfig({ env: { FOLD_MAX_DELAY_MS: '20000', FOLD_ORPHAN_AFTER_MS: '30000' } }),
    (err: unknown) => err instanceof ConfigError && err.problems[0]!.startsWith('FOLD_MAX_DELAY_MS'),
  );
  const c = loadProcessorConfig({ env: { FOLD_MAX_DELAY_MS: '30000', FOLD_ORPHAN_AFTER_MS: '60000' } });
  assert.deepEqual([c.FOLD_MAX_DELAY_MS, c.FOLD_ORPHAN_AFTER_MS], [30_000, 60_000]);
});

test('a fold waits for FOLD_READINGS_PER_ROW readings per row (4 unless set); zero is refused by name', () => {
  assert.equal(loadProcessorConfig({ env: {} }).FOLD_READINGS_PER_ROW, 4);
  assert.equal(loadProcessorConfig({ env: { FOLD_READINGS_PER_ROW: '16' } }).FOLD_READINGS_PER_ROW, 16);
  assert.throws(
    () => loadProcessorConfig({ env: { FOLD_READINGS_PER_ROW: '0' } }),
    (err: unknown) => err instanceof ConfigError && err.problems[0]!.startsWith('FOLD_READINGS_PER_ROW'),
  );
});
