import type { Server } from 'node:http';

/**
 * How long an idle keep-alive connection stays open (ms). Node closes one after 5 s by default, while the proxies
 * in front of a service keep theirs to it far longer (ingress-nginx's upstream keep-alive: 60 s; cloud load
 * balancers: 60 s and more). A proxy that sends a request on a connection the server is closing at that moment gets
 * a reset, and answers the client 502 — for a POST, which a proxy does not retry, a reading the producer must send
 * again. Outliving the proxies' timeout leaves closing idle connections to them.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** Sets `server`'s idle keep-alive timeout past the proxies' (and its header timeout past that, as Node requires). */
export function keepAliveBeyondProxies(server: Server): Server {
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
  return server;
}
