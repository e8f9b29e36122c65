import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { keepAliveBeyondProxies } from './keep-alive.js';

/** Two requests over one keep-alive agent, `idleMs` apart: whether the second went over the first's connection. */
async function reusedAfter(server: http.Server, idleMs: number): Promise<boolean> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const get = () =>
    new Promise<boolean>((resolve, reject) => {
      const req = http.get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(req.reusedSocket));
      });
      req.on('error', reject);
    });
  try {
    await get();
    await new Promise((r) => setTimeout(r, idleMs));
    return await get();
  } finally {
    agent.destroy();
    server.close();
  }
}

const ok = (_req: http.IncomingMessage, res: http.ServerResponse) => res.end('ok');

test('an idle keep-alive connection outlives Node’s default (about 5 s), so that the proxy in front closes it, not us', async () => {
  // Side by side, the same wait: on a plain server the connection is gone, on ours it is still there.
  const [ours, plain] = await Promise.all([
    reusedAfter(keepAliveBeyondProxies(http.createServer(ok)), 7_000),
    reusedAfter(http.createServer(ok), 7_000),
  ]);
  assert.deepEqual({ ours, plain }, { ours: true, plain: false });
});
