import { after, before, test } from 'node:test';
import { readlinkSync, rmSync, symlinkSync } from 'node:fs';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { SerialPort } from 'serialport';
import { PtyPair, until } from '@telemetryhub/testkit';
import { ReadingSchema, type Reading } from '@telemetryhub/schemas';
import { SerialDriver, type SerialDeviceSpec } from './serial-driver.js';
import { encodeBinaryFrame } from './serial/binary-frame.js';
import { nmeaChecksum } from './checksums.js';
import { DeviceRegistry } from '../control/device-registry.js';
import { createHubMetrics } from '../metrics/hub-metrics.js';

/**
 * The serial driver against real pseudo-terminals: socat joins two ptys like a null-modem cable, a fake device
 * writes to one end through serialport, the driver reads the other. Unplugging kills socat, as pulling a USB
 * adapter closes the port.
 */
const pairs: PtyPair[] = [];
before(async () => {
  for (let i = 0; i < 3; i++) pairs.push(await PtyPair.start());
});
after(async () => {
  await Promise.all(pairs.map((p) => p.stop()));
});

const spec = (id: string, port: string, over: Partial<SerialDeviceSpec>): SerialDeviceSpec => ({
  id,
  port,
  baudRate: 115200,
  format: 'csv',
  metrics: ['temperature', 'humidity'],
  site: 'plant-1',
  region: 'eu',
  firmware: 'fw-2',
  ...over,
});

async function fakeDevice(path: string): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  return port;
}
const send = (port: SerialPort, data: string | Buffer) =>
  new Promise<void>((resolve, reject) => port.write(data, (err) => (err ? reject(err) : port.drain(() => resolve()))));

function harness(devices: SerialDeviceSpec[], safeStateAfter = 5) {
  const registry = new Registry();
  const metrics = createHubMetrics(registry);
  const control = new DeviceRegistry(safeStateAfter);
  for (const d of devices) control.register(d.id);
  control.startAll();
  const got: Reading[] = [];
  const driver = new SerialDriver({ devices, control, metrics, reconnectMinMs: 50, reconnectMaxMs: 200 });
  driver.start((r) => got.push(...r));
  const counter = async (name: string, labels: Record<string, string>) => {
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
    const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
    return v?.value ?? 0;
  };
  return { driver, control, got, counter };
}

test('reads CSV, NMEA and binary devices at once, skipping and counting malformed frames', async () => {
  const [csv, nmea, bin] = pairs as [PtyPair, PtyPair, PtyPair];
  const { driver, got, counter } = harness([
    spec('csv-1', csv.hostPath, { format: 'csv' }),
    spec('nmea-1', nmea.hostPath, { format: 'nmea', sentence: 'THS' }),
    spec('bin-1', bin.hostPath, { format: 'binary' }),
  ]);
  const devices = await Promise.all([csv, nmea, bin].map((p) => fakeDevice(p.devicePath)));
  try {
    // Bytes written before the driver opens its end are lost, as on a real line.
    await until('the driver opened every port', () => ['csv-1', 'nmea-1', 'bin-1'].every((id) => driver.isOpen(id)));
    const body = 'THS,22.5,41';
    await send(devices[0]!, '21.5,40.1\r\nnot,a number\n21.75,40.2\n');
    await send(devices[1]!, `$${body}*${nmeaChecksum(body).toString(16).padStart(2, '0')}\n$THS,1,2*00\n`);
    const corrupt = encodeBinaryFrame(8, [1, 2]);
    corrupt[9] = corrupt[9]! ^ 0x10;
    await send(devices[2]!, Buffer.concat([encodeBinaryFrame(7, [23.5, 42]), corrupt, encodeBinaryFrame(9, [24, 43])]));
    await until('every good frame became readings', () => got.length === 10);
    for (const r of got) assert.deepEqual(ReadingSchema.parse(r), r);
    const byDevice = (id: string) =>
      got.filter((r) => r.device_id === id).map((r) => [r.metric, r.value, r.sequence_id]);
    assert.deepEqual(byDevice('csv-1'), [
      ['temperature', 21.5, 1],
      ['humidity', 40.1, 1],
      ['temperature', 21.75, 2],
      ['humidity', 40.2, 2],
    ]);
    assert.deepEqual(byDevice('nmea-1'), [
      ['temperature', 22.5, 1],
      ['humidity', 41, 1],
    ]);
    assert.deepEqual(
      byDevice('bin-1'),
      [
        ['temperature', 23.5, 7],
        ['humidity', 42, 7],
        ['temperature', 24, 9],
        ['humidity', 43, 9],
      ],
      'binary frames carry the device’s own sequence: the corrupted frame 8 is a visible gap',
    );
    assert.equal(
      await counter('telemetryhub_hub_driver_errors_total', { driver: 'serial', kind: 'malformed_frame' }),
      3,
    );
    assert.equal(got[0]!.firmware, 'fw-2');
  } finally {
    await Promise.all(devices.map((d) => new Promise((r) => d.close(r))));
    await driver.stop();
  }
});

test('reconnects when the port disappears and comes back, and keeps reading', async () => {
  const first = await PtyPair.start();
  let pair = first;
  const { driver, got, counter, control } = harness([spec('json-1', first.hostPath, { format: 'json' })], 1000);
  let device = await fakeDevice(pair.devicePath);
  try {
    await until('a line before the unplug is read', async () => {
      await send(device, '{"temperature":20,"seq":1}\n');
      return got.length > 0;
    });
    await new Promise((r) => device.close(r));
    await pair.unplug();
    await until(
      'the driver saw the port go',
      async () =>
        (await counter('telemetryhub_hub_driver_errors_total', { driver: 'serial', kind: 'disconnected' })) >= 1,
    );
    await new Promise((r) => setTimeout(r, 400)); // a few failed reopen attempts while unplugged
    pair = await PtyPair.start({ dir: first.dir });
    device = await fakeDevice(pair.devicePath);
    await until('a line after the replug is read', async () => {
      await send(device, '{"temperature":30,"seq":2}\n');
      return got.some((r) => r.value === 30);
    });
    assert.equal(await counter('telemetryhub_hub_driver_reconnects_total', { driver: 'serial' }), 1);
    assert.equal(control.get('json-1')?.state, 'Measuring', 'a brief unplug does not latch a fault');
  } finally {
    await new Promise((r) => device.close(r));
    await driver.stop();
    await pair.stop();
  }
});

test('a port that stays away is retried after doubling delays up to the cap (the jitter pinned to its top)', async () => {
  const pair = await PtyPair.start();
  const lost: Array<{ time: number; retryInMs: number }> = [];
  const log = pino(
    { level: 'warn' },
    {
      write: (line: string) => {
        const entry = JSON.parse(line) as { msg: string; time: number; retryInMs: number };
        if (entry.msg === 'serial port lost') lost.push(entry);
      },
    },
  );
  const driver = new SerialDriver({
    devices: [spec('away-1', pair.hostPath, {})],
    reconnectMinMs: 40,
    reconnectMaxMs: 160,
    random: () => 0.9999,
    log,
  });
  driver.start(() => {});
  try {
    await until('the port is open', () => driver.isOpen('away-1'));
    await pair.unplug();
    await until('six attempts to reopen failed', () => lost.length >= 6, 10_000);
    assert.deepEqual(
      lost.slice(0, 6).map((l) => l.retryInMs),
      [39, 79, 159, 159, 159, 159], // just under each ceiling: 40 · 2^n, capped at 160,
    );
    for (let i = 1; i < 6; i++) {
      const waited = lost[i]!.time - lost[i - 1]!.time;
      assert.ok(
        waited >= lost[i - 1]!.retryInMs - 2,
        `attempt ${i + 1} came ${waited} ms after the last, before its delay`,
      );
    }
  } finally {
    await driver.stop();
    await pair.stop();
  }
});

test('a port that stays away latches SafeState after the configured failures', async () => {
  const pair = await PtyPair.start();
  const { driver, control } = harness([spec('gone-1', pair.hostPath, {})], 3);
  try {
    await new Promise((r) => setTimeout(r, 200));
    await pair.unplug();
    await until('the device is latched in SafeState', () => control.get('gone-1')?.state === 'SafeState');
    assert.match(control.get('gone-1')!.snapshot().last_error ?? '', /gone-1|host/);
  } finally {
    await driver.stop();
    await pair.stop();
  }
});

test('a port whose device node disappears is dropped even though its reads never fail', async () => {
  // As a pulled USB adapter removes /dev/ttyUSB0 while a hung-up tty may answer reads with EOF forever.
  const pair = await PtyPair.start();
  const { driver, counter, got } = harness([spec('node-1', pair.hostPath, { format: 'csv', metrics: ['v'] })], 1000);
  const target = readlinkSync(pair.hostPath);
  try {
    await until('the port is open', () => driver.isOpen('node-1'));
    rmSync(pair.hostPath); // the cable still works; only the device node is gone
    await until(
      'the driver dropped the port',
      async () =>
        (await counter('telemetryhub_hub_driver_errors_total', { driver: 'serial', kind: 'disconnected' })) >= 1,
    );
    assert.equal(driver.isOpen('node-1'), false);
    symlinkSync(target, pair.hostPath); // plugged back in
    const device = await fakeDevice(pair.devicePath);
    try {
      await until('readings flow again', async () => {
        await send(device, '7\n');
        return got.length > 0;
      });
    } finally {
      await new Promise((r) => device.close(r));
    }
  } finally {
    await driver.stop();
    await pair.stop();
  }
});
