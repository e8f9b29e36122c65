import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { TcpFaultProxy } from './tcp-fault-proxy.js';
import { freePort } from './ports.js';

let echo: Server;
let echoPort: number;
before(async () => {
  echoPort = await freePort();
  echo = createServer((s) => {
    s.on('error', () => {}); // a reset link resets this end too
    s.pipe(s);
  });
  await new Promise<void>((resolve) => echo.listen(echoPort, '127.0.0.1', () => resolve()));
});
after(() => new Promise<void>((resolve) => echo.close(() => resolve())));

async function connect(port: number): Promise<Socket> {
  const s = createConnection({ host: '127.0.0.1', port });
  await once(s, 'connect');
  return s;
}

/** The first data within `ms`, or null. */
function reply(s: Socket, ms: number): Promise<string | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    s.once('data', (d: Buffer) => {
      clearTimeout(timer);
      resolve(d.toString());
    });
  });
}

test('the fault proxy passes, delays, holds (blackhole) and resets a link on demand', async () => {
  const proxy = await TcpFaultProxy.start({ port: echoPort });
  try {
    const s = await connect(proxy.port);
    s.write('one');
    assert.equal(await reply(s, 1000), 'one');

    proxy.set({ kind: 'delay', delayMs: 300 });
    const t0 = Date.now();
    s.write('two');
    assert.equal(await reply(s, 2000), 'two');
    assert.ok(Date.now() - t0 >= 500, 'delayed on the way there and back');

    proxy.set({ kind: 'blackhole' });
    s.write('three');
    assert.equal(await reply(s, 400), null, 'nothing comes back, and the connection stays open');
    assert.equal(s.destroyed, false);
    const late = reply(s, 1000);
    proxy.set({ kind: 'pass' });
    assert.equal(await late, 'three', 'what was sent meanwhile arrives once the link is back');

    // events.once would reject on the 'error' (ECONNRESET) that comes before the close.
    s.on('error', () => {});
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    proxy.set({ kind: 'reset' });
    await closed;
    const refused = createConnection({ host: '127.0.0.1', port: proxy.port });
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
      refused.once('error', (e) => resolve(e));
      refused.once('close', () => resolve(null));
    });
    assert.equal(err?.code, 'ECONNRESET');

    proxy.set({ kind: 'pass' });
    const again = await connect(proxy.port);
    again.write('four');
    assert.equal(await reply(again, 1000), 'four');
    again.destroy();
  } finally {
    await proxy.stop();
  }
});
