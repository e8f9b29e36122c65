import http from 'node:http';
import { postJson } from './http-post.js';

export interface PacedLoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  non2xx: number;
  /** The non-2xx answers by status code (e.g. `{ "429": 3 }`). */
  non2xxByStatus: Record<string, number>;
  errors: number;
  /** The connection errors by code or message (e.g. `{ "ECONNRESET": 1 }`). */
  errorsByCode: Record<string, number>;
}

/**
 * POSTs `body` at a steady `requestsPerSecond` for `durationS` seconds over at most `connections` keep-alive
 * connections (an open-loop load: requests are sent on schedule whether or not earlier ones were answered).
 * Latency is counted from when a request was due, not from when a free connection sent it, so a stalled server
 * is not flattered by the requests it delayed (coordinated omission). Autocannon's `overallRate` is no substitute:
 * it sends each second's quota as fast as it can and then waits, so its latencies are those of a saturated server.
 */
export async function pacedLoad(
  url: string,
  /** The body of every request, or a function making each one (fresh event ids and times). */
  body: string | (() => string),
  requestsPerSecond: number,
  durationS: number,
  connections: number,
): Promise<PacedLoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const fixed = typeof body === 'string' ? Buffer.from(body) : undefined;
  const total = Math.round(requestsPerSecond * durationS);
  const latencies: number[] = [];
  const non2xxByStatus: Record<string, number> = {};
  const errorsByCode: Record<string, number> = {};
  const count = (into: Record<string, number>, key: string) => (into[key] = (into[key] ?? 0) + 1);
  let sent = 0;
  const start = performance.now();

  const send = (dueAt: number) =>
    postJson(agent, url, fixed ?? Buffer.from((body as () => string)()), 30_000).then(
      (answer) => {
        latencies.push(performance.now() - dueAt);
        if (answer.status < 200 || answer.status > 299) count(non2xxByStatus, String(answer.status));
      },
      (err: NodeJS.ErrnoException) => {
        count(errorsByCode, err.code ?? err.message);
      },
    );

  const inFlight: Array<Promise<void>> = [];
  await new Promise<void>((done) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * requestsPerSecond));
      for (; sent < due; sent++) inFlight.push(send(start + (sent / requestsPerSecond) * 1000));
      if (sent >= total) {
        clearInterval(timer);
        done();
      }
    }, 1);
  });
  await Promise.all(inFlight);
  const elapsedS = (performance.now() - start) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
  const errors = sum(errorsByCode);
  const at = (q: number) =>
    Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN);
  return {
    requestsPerSecond: (total - errors) / elapsedS,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: Math.round(latencies.at(-1) ?? NaN),
    non2xx: sum(non2xxByStatus),
    non2xxByStatus,
    errors,
    errorsByCode,
  };
}
