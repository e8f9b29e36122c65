import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { freePort } from './ports.js';

/**
 * What the link does: `pass` forwards both ways; `delay` forwards each chunk after `delayMs`; `blackhole` keeps
 * connections open and holds what is sent (a partition: the peers learn nothing until their own timeouts, and what
 * TCP was retransmitting arrives once the link is back — bytes are never dropped from the middle of a stream);
 * `reset` drops every connection at once and resets new ones (a cut cable, a restarted middlebox).
 */
export type LinkMode =
  { kind: 'pass' } | { kind: 'delay'; delayMs: number } | { kind: 'blackhole' } | { kind: 'reset' };

/**
 * A TCP proxy on loopback whose link can be broken on demand, for tests of what a client does when its server is
 * slow, silent or gone — neither toxiproxy nor `tc netem` is at hand, and a proxy needs no privileges. Hand-written:
 * it is one socket pair per connection and a switch.
 */
export class TcpFaultProxy {
  private mode: LinkMode = { kind: 'pass' };
  private readonly pairs = new Set<[Socket, Socket]>();
  /** What arrived while the link was a blackhole, in order, to deliver once it is back. */
  private held: Array<[Buffer, Socket]> = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target: { host?: string; port: number }): Promise<TcpFaultProxy> {
    const port = await freePort();
    const holder: { proxy?: TcpFaultProxy } = {};
    const server = createServer((client) => holder.proxy?.accept(client, target));
    const proxy = new TcpFaultProxy(server, port);
    holder.proxy = proxy;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  /** Changes what the link does, for open connections and new ones alike. */
  set(mode: LinkMode): void {
    this.mode = mode;
    if (mode.kind === 'reset') {
      this.held = [];
      for (const [a, b] of this.pairs) {
        a.resetAndDestroy();
        b.resetAndDestroy();
      }
    } else if (mode.kind !== 'blackhole') {
      const held = this.held;
      this.held = [];
      for (const [chunk, to] of held) this.forward(chunk, to);
    }
  }

  get connections(): number {
    return this.pairs.size;
  }

  async stop(): Promise<void> {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, target: { host?: string; port: number }): void {
    if (this.mode.kind === 'reset') {
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection({ host: target.host ?? '127.0.0.1', port: target.port });
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const close = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const [from, to] of [pair, [upstream, client] as [Socket, Socket]]) {
      from.on('data', (chunk: Buffer) => this.forward(chunk, to));
      from.on('error', close);
      from.on('close', close);
    }
  }

  private forward(chunk: Buffer, to: Socket): void {
    const mode = this.mode;
    if (mode.kind === 'pass') to.write(chunk);
    else if (mode.kind === 'delay') setTimeout(() => to.writable && to.write(chunk), mode.delayMs);
    else if (mode.kind === 'blackhole') this.held.push([chunk, to]);
    // reset: the connection is gone
  }
}
