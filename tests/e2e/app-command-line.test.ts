import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { PtyPair } from '@telemetryhub/testkit';
import { ROOT } from '../../scripts/local-pipeline.js';

/** Runs an app's main.ts with `args`, with Redis and PostgreSQL pointing nowhere (nothing may connect). */
function app(
  name: 'hub' | 'task-processor',
  args: string[],
  extra: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    REDIS_URL: 'redis://127.0.0.1:1',
    DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
    ...extra,
  };
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', `apps/${name}/src/main.ts`, ...args],
      { cwd: ROOT, env, timeout: 30_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

for (const name of ['hub', 'task-processor'] as const) {
  test(`${name}: --version prints it, an unknown flag exits 2 naming it, neither starts anything`, async () => {
    const version = await app(name, ['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, new RegExp(`^telemetryhub ${name} \\d+\\.\\d+\\.\\d+\\n$`));
    const bad = await app(name, ['--chek-config']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--chek-config/);
  });
}

test('task-processor --check-config validates the configuration and exits without connecting', async () => {
  const ok = await app('task-processor', ['--check-config']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /task-processor: configuration valid \(default alert rules, 0 devices/);
  const bad = await app('task-processor', ['--check-config'], { FETCH_BATCH_SIZE: 'many' });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /FETCH_BATCH_SIZE: .*\(got "many"\)/);
});

test('hub --once reads every configured device once — a real serial link among them — and exits without serving', async () => {
  const sims = await app('hub', ['--once'], { SIM_DEVICES: '2', SIM_RATE_HZ: '5', LOG_LEVEL: 'warn' });
  assert.equal(sims.code, 0, sims.stderr);
  const readings = sims.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { device_id: string; metric: string });
  assert.deepEqual([...new Set(readings.map((r) => r.device_id))], ['sim-001', 'sim-002']);
  assert.equal(readings.length, 10, 'every metric of each device, once');
  assert.match(sims.stderr, /2 device\(s\) read, 10 reading\(s\)/);

  // A CSV device on a pseudo-terminal pair (socat), and one whose port is not there.
  const pair = await PtyPair.start();
  const dir = mkdtempSync(join(tmpdir(), 'th-once-'));
  const devicesFile = join(dir, 'devices.yaml');
  writeFileSync(
    devicesFile,
    `devices:
  - { driver: serial, id: line-1, port: ${pair.hostPath}, baudRate: 9600, format: csv, metrics: [temperature, humidity] }
  - { driver: serial, id: unplugged, port: ${join(dir, 'no-such-port')}, baudRate: 9600, format: csv, metrics: [temperature] }
`,
  );
  const device = new SerialPort({ path: pair.devicePath, baudRate: 9600 });
  const writer = setInterval(() => device.write('21.50,40.1\n'), 200);
  try {
    const run = await app('hub', ['--once'], { DEVICES_FILE: devicesFile, LOG_LEVEL: 'error' });
    assert.equal(run.code, 1, 'a device gave nothing: exit 1');
    assert.deepEqual(
      run.stdout
        .trim()
        .split('\n')
        .map((l) => {
          const r = JSON.parse(l) as { device_id: string; metric: string; value: number };
          return [r.device_id, r.metric, r.value];
        }),
      [
        ['line-1', 'temperature', 21.5],
        ['line-1', 'humidity', 40.1],
      ],
    );
    assert.match(run.stderr, /nothing from unplugged within 10 s/);
  } finally {
    clearInterval(writer);
    await new Promise<void>((resolve) => device.close(() => resolve()));
    await pair.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
