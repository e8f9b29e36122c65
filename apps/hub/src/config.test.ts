import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, hashApiKey } from '@telemetryhub/service-kit';
import { loadHubConfig } from './config.js';

test('reads API keys as name:sha256 and names INGEST_API_KEYS when one is malformed', () => {
  const c = loadHubConfig({ env: { INGEST_API_KEYS: `line-1:${hashApiKey('k')}` } });
  assert.equal(c.INGEST_API_KEYS[0]!.name, 'line-1');
  assert.throws(
    () => loadHubConfig({ env: { INGEST_API_KEYS: 'line-1:plaintext-key' } }),
    (err: unknown) => err instanceof ConfigError && /^INGEST_API_KEYS: .*not name:sha256-hex/.test(err.problems[0]!),
  );
});

test('has the documented defaults', () => {
  const c = loadHubConfig({ env: {} });
  assert.deepEqual(
    [
      c.HUB_PORT,
      c.QUEUE_NAME,
      c.BUFFER_POLICY,
      c.BATCH_MAX_READINGS,
      c.BATCH_LINGER_MS,
      c.INGEST_RATE_LIMIT_PER_SECOND,
    ],
    [8080, 'tasks', 'drop-oldest', 500, 50, 0],
  );
  assert.deepEqual(c.INGEST_API_KEYS, []);
});

test('spool and MQTT settings: documented defaults, and bad values named', () => {
  const c = loadHubConfig({ env: {} });
  assert.deepEqual(
    [c.SPOOL_DIR, c.SPOOL_MAX_BYTES, c.MQTT_URL, c.MQTT_TOPIC, c.MQTT_QOS, c.MQTT_CLIENT_ID],
    ['data/hub-spool', 1024 * 1024 * 1024, '', 'telemetry/#', 1, 'telemetryhub-hub'],
  );
  assert.equal(loadHubConfig({ env: { SPOOL_DIR: 'off' } }).SPOOL_DIR, '', 'SPOOL_DIR=off turns the spool off');
  assert.equal(loadHubConfig({ env: { SPOOL_DIR: '' } }).SPOOL_DIR, 'data/hub-spool', 'empty is unset: the default');
  assert.throws(
    () => loadHubConfig({ env: { MQTT_QOS: '3', MQTT_URL: 'http://broker:1883' } }),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.problems.some((p) => p.startsWith('MQTT_QOS: must be 0, 1 or 2')) &&
      err.problems.some((p) => p.startsWith('MQTT_URL: must start with mqtt://')),
  );
});

test('simulator anomaly and clock-skew settings: off by default, probabilities in [0, 1]', () => {
  const c = loadHubConfig({ env: {} });
  assert.deepEqual(
    [c.SIM_SPIKE_RATE, c.SIM_GAP_RATE, c.SIM_DUPLICATE_RATE, c.SIM_OUT_OF_ORDER_RATE, c.CLOCK_SKEW_POLICY],
    [0, 0, 0, 0, 'reject'],
  );
  assert.equal(loadHubConfig({ env: { SIM_GAP_RATE: '0.25' } }).SIM_GAP_RATE, 0.25);
  assert.throws(
    () => loadHubConfig({ env: { SIM_DUPLICATE_RATE: '1.5', CLOCK_SKEW_POLICY: 'ignore' } }),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.problems
        .map((p) => p.split(':')[0])
        .sort()
        .join() === 'CLOCK_SKEW_POLICY,SIM_DUPLICATE_RATE',
  );
});
