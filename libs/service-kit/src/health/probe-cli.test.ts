import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('./probe-cli.ts', import.meta.url));
/** Runs the probe as the image does, in a child process (async: the server under test lives in this one). */
const run = (url: string) =>
  new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', cli, url, '500'], { timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ status: err ? Number(err.code ?? -1) : 0, stdout, stderr }),
    );
  });

test('the container health probe exits 0 on 2xx and 1 on an error status, a closed port or a hang', async () => {
  const server = createServer((req, res) => {
    if (req.url === '/hang') return; // never answers
    res.statusCode = req.url === '/health' ? 200 : 503;
    res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const ok = await run(`${base}/health`);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /→ 200/);
    assert.equal((await run(`${base}/ready`)).status, 1);
    assert.equal((await run(`${base}/hang`)).status, 1);
  } finally {
    server.closeAllConnections();
    server.close();
  }
  const closed = await run(`${base}/health`);
  assert.equal(closed.status, 1);
  assert.match(closed.stderr, /ECONNREFUSED/);
});
