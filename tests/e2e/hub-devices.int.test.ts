import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SerialPort } from 'serialport';
import { PtyPair, RedisServer, freePort, until } from '@telemetryhub/testkit';
import type { Reading } from '@telemetryhub/schemas';
import { ROOT, startAppProcess, waitReady } from '../../scripts/local-pipeline.js';
import { queuedTasks } from './support/queued-tasks.js';

/**
 * The hub as users run it with a devices file: a serial device on a real pseudo-terminal (socat) next to a
 * simulated group, every reading in Redis labelled and numbered as configured.
 */
let redis: RedisServer;
let pty: PtyPair;
let workDir: string;
before(async () => {
  [redis, pty] = await Promise.all([RedisServer.start(), PtyPair.start()]);
  workDir = await mkdtemp(join(tmpdir(), 'hub-devices-'));
});
after(async () => {
  await Promise.all([redis.stop(), pty.stop()]);
  await rm(workDir, { recursive: true, force: true });
});

const run = promisify(execFile);

async function queuedReadings(queue: string): Promise<Reading[]> {
  return (await queuedTasks(redis.url, queue)).flatMap((t) => t.readings);
}

test('--check-config validates a devices file without starting anything, exit 1 naming the problem', async () => {
  const bad = join(workDir, 'bad.yaml');
  await writeFile(bad, 'devices:\n  - { driver: i2c, id: x, bus: 1, address: 0x99, sensor: sht31 }\n');
  const hub = ['--import', 'tsx', 'apps/hub/src/main.ts', '--check-config'];
  const failed = await run(process.execPath, hub, { cwd: ROOT, env: { ...process.env, DEVICES_FILE: bad } }).catch(
    (err: { code: number; stderr: string }) => err,
  );
  assert.equal((failed as { code: number }).code, 1);
  assert.match((failed as { stderr: string }).stderr, /devices\[0\]\.address: must be a 7-bit address/);
  const ok = await run(process.execPath, hub, {
    cwd: ROOT,
    env: { ...process.env, DEVICES_FILE: join(ROOT, 'apps/hub/devices.example.yaml') },
  });
  assert.match(ok.stdout, /configuration valid \(7 device entries\)/);
});

test('a hub with a devices file publishes its serial and simulated devices’ readings to Redis', async () => {
  const devicesFile = join(workDir, 'devices.json');
  await writeFile(
    devicesFile,
    JSON.stringify({
      devices: [
        {
          driver: 'serial',
          id: 'line-3-env',
          port: pty.hostPath,
          baudRate: 115200,
          format: 'csv',
          metrics: ['temperature', 'humidity'],
          site: 'plant-9',
          firmware: 'env-2.1',
        },
        { driver: 'simulated', count: 2, idPrefix: 'lab-', rateHz: 5, metrics: ['voltage'] },
      ],
    }),
  );
  const port = await freePort();
  const hub = startAppProcess('hub', {
    ...process.env,
    REDIS_URL: redis.url,
    QUEUE_NAME: 'devices',
    HUB_PORT: String(port),
    SPOOL_DIR: join(workDir, 'spool'),
    DEVICES_FILE: devicesFile,
    SIM_DEVICES: '7', // ignored: the file is the whole list
    BATCH_LINGER_MS: '20',
    LOG_LEVEL: 'warn',
  });
  const url = `http://127.0.0.1:${port}`;
  const device = new SerialPort({ path: pty.devicePath, baudRate: 115200, autoOpen: false });
  try {
    await waitReady(url, hub, 'hub', 60_000);
    await new Promise<void>((resolve, reject) => device.open((err) => (err ? reject(err) : resolve())));
    const status = async () => (await (await fetch(`${url}/v1/devices/line-3-env/status`)).json()) as { state: string };
    assert.equal((await status()).state, 'Measuring');
    // Lines sent before the hub opened its end of the cable are lost, as on a real line: send until one arrives.
    await until(
      'the hub reads the serial line',
      async () => {
        device.write('0,0\n');
        return (await queuedReadings('devices')).some((r) => r.device_id === 'line-3-env');
      },
      60_000,
      200,
    );
    for (let i = 1; i <= 20; i++) device.write(`${20 + i / 10},${40 + i}\n`);
    await until(
      'all 20 samples are in Redis',
      async () => (await queuedReadings('devices')).some((r) => r.device_id === 'line-3-env' && r.value === 60),
      60_000,
      100,
    );
    const readings = await queuedReadings('devices');
    const serial = readings.filter((r) => r.device_id === 'line-3-env' && r.metric === 'temperature' && r.value > 0);
    assert.deepEqual(
      serial.map((r) => r.value),
      Array.from({ length: 20 }, (_, i) => 20 + (i + 1) / 10),
    );
    const seqs = serial.map((r) => r.sequence_id!);
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => seqs[0]! + i),
      'numbered by the hub, no gaps',
    );
    assert.deepEqual([serial[0]!.site, serial[0]!.firmware, serial[0]!.unit], ['plant-9', 'env-2.1', 'C']);
    const simulated = new Set(readings.filter((r) => r.metric === 'voltage').map((r) => r.device_id));
    assert.deepEqual([...simulated].sort(), ['lab-001', 'lab-002'], 'the simulated group of the file, not SIM_DEVICES');
  } finally {
    await new Promise((r) => (device.isOpen ? device.close(r) : r(null)));
    await hub.stop('SIGTERM', 30_000);
  }
  assert.equal((await hub.exitPromise).code, 0, 'the hub stops its serial ports and exits 0');
});
