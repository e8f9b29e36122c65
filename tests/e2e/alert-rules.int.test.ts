import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalPipeline } from '../../scripts/local-pipeline.js';
import { eventually } from './support/eventually.js';
import { assertBothExitedCleanly } from './support/graceful-exits.js';

interface AlertView {
  device_id: string;
  metric: string;
  rule: string;
  threshold: number;
  value: number;
  state: string;
}

test('ALERT_RULES_FILE: a device with a rule of its own alerts at its threshold, the others at the shared one, named as they send themselves under pseudonymisation', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'th-rules-'));
  const rulesFile = join(dir, 'rules.yaml');
  writeFileSync(
    rulesFile,
    [
      'rules:',
      '  - { metric: temperature, max: 80, hysteresis: 2 }',
      '  - { metric: temperature, device: kiln-1, max: 1200, hysteresis: 10 }',
    ].join('\n'),
  );
  const pipeline = await startLocalPipeline({
    env: {
      ALERT_RULES_FILE: rulesFile,
      DEVICE_ID_HMAC_KEY: 'an-e2e-test-key-of-at-least-32-characters',
      SIM_DEVICES: '1',
      SIM_RATE_HZ: '1',
      LOG_LEVEL: 'warn',
      BATCH_LINGER_MS: '20',
    },
  });
  try {
    const now = Date.now();
    const reading = (device: string, value: number, i: number) => ({
      event_id: randomUUID(),
      device_id: device,
      metric: 'temperature',
      value,
      unit: 'C',
      event_time: new Date(now - 10_000 + i * 1000).toISOString(),
    });
    const posted = await fetch(`${pipeline.hubUrl}/v1/telemetry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // 900 °C: normal for the kiln, an alert for the line; then the kiln goes past its own limit.
      body: JSON.stringify([reading('kiln-1', 900, 0), reading('line-7', 900, 1), reading('kiln-1', 1250, 2)]),
    });
    assert.equal(posted.status, 202, await posted.text());
    const alertsOf = (device: string) =>
      eventually(async () => {
        const r = await fetch(`${pipeline.processorUrl}/v1/alerts?device=${device}`);
        const { alerts } = (await r.json()) as { alerts: AlertView[] };
        return alerts.length ? alerts : undefined;
      });
    const kiln = await alertsOf('kiln-1');
    const line = await alertsOf('line-7');
    const view = (a: AlertView) => [a.metric, a.rule, Number(a.threshold), Number(a.value), a.state];
    assert.deepEqual(kiln.map(view), [['temperature', 'max', 1200, 1250, 'firing']]);
    assert.deepEqual(line.map(view), [['temperature', 'max', 80, 900, 'firing']]);
    assert.match(kiln[0]!.device_id, /^dev_[0-9a-f]{32}$/, 'stored under its pseudonym');
  } finally {
    await pipeline.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  await assertBothExitedCleanly(pipeline);
});
