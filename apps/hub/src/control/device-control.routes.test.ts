import { hashApiKey, parseApiKeys } from '@telemetryhub/service-kit';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestHub, listen } from '../app.test-support.js';
import { DeviceRegistry } from './device-registry.js';
import { SimulatedDriver } from '../drivers/simulated-driver.js';

function setup(faultRate: number, extra: Parameters<typeof buildTestHub>[0] = {}) {
  const devices = new DeviceRegistry(3);
  const driver = new SimulatedDriver({
    devices: 2,
    rateHz: 1,
    metrics: ['temperature'],
    site: 's',
    region: 'r',
    seed: 3,
    control: devices,
    faultRate,
  });
  for (const id of driver.deviceIds) devices.register(id);
  return { hub: buildTestHub({ devices, ...extra }), driver, devices };
}

type Body = Record<string, unknown> & { state?: string; ok?: boolean; detail?: string };
async function call(url: string, method = 'GET', headers: Record<string, string> = {}) {
  const res = await fetch(url, { method, headers });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.json()) as Body };
}

test('the original contract: Idle → start → Measuring with a latest sample → stop → Idle', async () => {
  const { hub, driver } = setup(0);
  const srv = await listen(hub.app);
  try {
    assert.equal((await call(`${srv.url}/status`)).body.state, 'Idle');
    assert.equal(driver.sampleAll(1, Date.now()).length, 0, 'idle devices are not read');
    assert.deepEqual((await call(`${srv.url}/start`, 'POST')).body, { ok: true });
    assert.equal(driver.sampleAll(1, Date.now()).length, 2);
    const status = await call(`${srv.url}/status`);
    assert.equal(status.body.state, 'Measuring');
    assert.equal((status.body.latest_sample as { metric: string }).metric, 'temperature');
    assert.deepEqual(Object.keys(status.body.metrics as object).slice(0, 2), ['samples_processed', 'samples_dropped']);
    assert.deepEqual((await call(`${srv.url}/stop`, 'POST')).body, { ok: true });
    assert.deepEqual((await call(`${srv.url}/stop`, 'POST')).body, { ok: true }, 'stop is idempotent');
    assert.equal((await call(`${srv.url}/status`)).body.state, 'Idle');
  } finally {
    await srv.close();
  }
});

test('consecutive read failures latch SafeState; start and reset answer 400 until the order is right', async () => {
  const { hub, driver } = setup(1);
  const srv = await listen(hub.app);
  try {
    await call(`${srv.url}/start`, 'POST');
    for (let i = 0; i < 3; i++) driver.sampleAll(1, Date.now());
    const status = await call(`${srv.url}/status`);
    assert.equal(status.body.state, 'SafeState');
    const start = await call(`${srv.url}/start`, 'POST');
    assert.equal(start.status, 400);
    assert.match(start.type, /problem\+json/);
    assert.match(String(start.body.detail), /reset first/);
    assert.equal(start.body.type, 'urn:telemetryhub:error:invalid_state');
    assert.deepEqual((await call(`${srv.url}/reset`, 'POST')).body, { ok: true });
    assert.equal((await call(`${srv.url}/status`)).body.state, 'Idle');
    const again = await call(`${srv.url}/reset`, 'POST');
    assert.equal(again.status, 400, 'reset with no fault to clear');
    await call(`${srv.url}/start`, 'POST');
    const whileMeasuring = await call(`${srv.url}/reset`, 'POST');
    assert.equal(whileMeasuring.status, 400);
    assert.match(String(whileMeasuring.body.detail), /stop them first/);
  } finally {
    await srv.close();
  }
});

test('per-device status and control, 404 for an unknown device, status and control behind the API key', async () => {
  const { hub } = setup(0, { apiKeys: parseApiKeys(`ops:${hashApiKey('ops-key-1234567890')}`) });
  const srv = await listen(hub.app);
  try {
    assert.equal((await call(`${srv.url}/v1/devices/sim-001/start`, 'POST')).status, 401);
    for (const path of ['/status', '/v1/devices/sim-001/status']) {
      assert.equal((await call(`${srv.url}${path}`)).status, 401, `${path} needs the key`);
    }
    const auth = { 'x-api-key': 'ops-key-1234567890' };
    assert.deepEqual((await call(`${srv.url}/v1/devices/sim-001/start`, 'POST', auth)).body, { ok: true });
    const one = await call(`${srv.url}/v1/devices/sim-001/status`, 'GET', auth);
    assert.equal(one.body.state, 'Measuring');
    assert.equal((await call(`${srv.url}/v1/devices/sim-002/status`, 'GET', auth)).body.state, 'Idle');
    assert.equal((await call(`${srv.url}/v1/devices/nope/status`, 'GET', auth)).status, 404);
    assert.equal((await call(`${srv.url}/status`, 'GET', auth)).status, 200);
  } finally {
    await srv.close();
  }
});

test('a failed read leaves a gap in the device’s sequence numbers, visible downstream', () => {
  const devices = new DeviceRegistry(100);
  const driver = new SimulatedDriver({
    devices: 1,
    rateHz: 1,
    metrics: ['temperature'],
    site: 's',
    region: 'r',
    seed: 11,
    control: devices,
    faultRate: 0.5,
  });
  devices.register('sim-001').start();
  const seqs = Array.from({ length: 20 }, (_, i) => driver.sampleAll(1, i * 1000))
    .flat()
    .map((r) => r.sequence_id!);
  assert.ok(seqs.length > 0 && seqs.length < 20);
  assert.ok(
    seqs.some((s, i) => i > 0 && s - seqs[i - 1]! > 1),
    'some sequence numbers are skipped',
  );
});
