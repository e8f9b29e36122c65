import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, isPortInUse, runCli } from '@telemetryhub/testkit';
import { ROOT } from '../../scripts/local-pipeline.js';

// The README's first promise: `npm start` brings everything up, shows readings arriving in PostgreSQL, and
// Ctrl-C (SIGINT) stops everything it started, leaving nothing behind.
test('npm start shows readings arriving, and Ctrl-C stops everything it started', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'th-start-'));
  chmodSync(dataDir, 0o755); // the postgres user must reach its cluster below
  const ports = {
    DEV_REDIS_PORT: await freePort(),
    DEV_POSTGRES_PORT: await freePort(),
    HUB_PORT: await freePort(),
    PROCESSOR_PORT: await freePort(),
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
      TELEMETRYHUB_DATA_DIR: dataDir,
      SIM_RATE_HZ: '5',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const deadline = Date.now() + 90_000;
    while (!/readings stored in PostgreSQL: [1-9]/.test(out)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`npm start did not show readings:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(out, /TelemetryHub is running/);
    // The CLI line it prints works as printed, next to the running stack.
    const cliLine = /CLI +REDIS_URL=(\S+) SPOOL_DIR=(\S+) npx telemetryhub queue stats/.exec(out);
    assert.ok(cliLine, 'npm start prints how to point the CLI at it');
    const stats = await runCli(['queue', 'stats', '--json'], {
      ...process.env,
      REDIS_URL: cliLine[1],
      SPOOL_DIR: cliLine[2],
    });
    assert.equal(stats.code, 0, stats.stderr);
    assert.equal(typeof (JSON.parse(stats.stdout) as { pending: number }).pending, 'number');
    assert.match(out, new RegExp(`latest reading http://127\\.0\\.0\\.1:${ports.PROCESSOR_PORT}/v1/devices/sim-001/`));
    // Its log files are for people: pino-pretty lines, the access log among them (a 404 logs as a warning).
    const missing = await fetch(`http://127.0.0.1:${ports.PROCESSOR_PORT}/v1/no-such-route?q=1`);
    assert.equal(missing.status, 404);
    const logFile = join(dataDir, 'logs', 'task-processor.log');
    const logDeadline = Date.now() + 10_000;
    while (!/WARN: task-processor GET \/v1\/no-such-route 404/.test(readFileSync(logFile, 'utf8'))) {
      if (Date.now() > logDeadline) throw new Error(`no access line in ${logFile}:\n${readFileSync(logFile, 'utf8')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.doesNotMatch(readFileSync(logFile, 'utf8'), /^\{/m, 'no JSON lines in the files npm start writes');
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.match(out, /stopped; nothing left running/);
    for (const [name, port] of Object.entries(ports))
      assert.equal(await isPortInUse(port), false, `${name} ${port} released`);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});
