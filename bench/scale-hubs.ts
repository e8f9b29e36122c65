import autocannon from 'autocannon';
import { freePort, type RedisServer, type ServerProcess } from '@telemetryhub/testkit';
import { startAppProcess, waitReady } from '../scripts/local-pipeline.js';
import { CORES, cpuFigures, cpuMeter, pin } from './cpu-pinning.js';
import { FLEET_METRICS } from './e2e-references.js';

/* The hub part of `npm run bench:scale`: hub replicas behind one Redis, taking HTTP ingest flat out. */

export interface HubPoint {
  layout: 'shared' | 'isolated';
  hubs: number;
  /** Events answered 202 per second, all hubs together (each 202 once its readings are in Redis). */
  events_per_s: number;
  cpu_us_per_event: { hubs: number; redis: number; load_generator: number };
  cores_busy: { hubs: number; redis: number; load_generator: number };
}

export const POST_EVENTS = 100;
/** One POST body: 100 readings in the gateway shape the hub benchmark sends (the hub derives their ids). */
function postBody(): string {
  const t = Date.now() - 5000;
  return JSON.stringify(
    Array.from({ length: POST_EVENTS }, (_, i) => ({
      device_id: `hub-scale-${i % 20}`,
      type: FLEET_METRICS[i % FLEET_METRICS.length],
      value: 20 + (i % 7) / 10,
      timestamp: new Date(t + i).toISOString(),
    })),
  );
}

/**
 * `hubs` hub processes behind one Redis, each driven flat out by its share of 32 connections for HUB_SECONDS; the
 * events they acknowledged per second over `seconds`, and the CPU of the hubs, Redis and the load generator (this process).
 */
export async function ingest(
  layout: HubPoint['layout'],
  hubs: number,
  redis: RedisServer,
  seconds: number,
): Promise<HubPoint> {
  const procs: ServerProcess[] = [];
  try {
    const urls: string[] = [];
    for (let i = 0; i < hubs; i++) {
      const port = await freePort();
      const proc = startAppProcess('hub', {
        ...process.env,
        REDIS_URL: redis.url,
        HUB_PORT: String(port),
        SIM_DEVICES: '0',
        SPOOL_DIR: 'off',
        BUFFER_CAPACITY: '1000000',
        LOG_LEVEL: 'warn',
        NODE_ENV: 'production',
      });
      procs.push(proc);
      urls.push(`http://127.0.0.1:${port}`);
      await waitReady(urls[i]!, proc, 'hub', 60_000);
    }
    const everything = `0-${CORES - 1}`;
    const apps = `${CORES > 1 ? 1 : 0}-${CORES - 1}`;
    pin([redis.pid!, process.pid], layout === 'isolated' ? '0' : everything);
    pin(
      procs.map((p) => p.pid!),
      layout === 'isolated' ? apps : everything,
    );
    const body = postBody();
    const connections = Math.max(1, Math.floor(32 / hubs));
    const run = (duration: number) =>
      Promise.all(
        urls.map((u) =>
          autocannon({
            url: `${u}/v1/telemetry`,
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
            connections,
            duration,
          }),
        ),
      );
    await run(2); // warm-up
    const pidsOf = { hubs: procs.map((p) => p.pid!), redis: [redis.pid!], load_generator: [process.pid] };
    const meter = await cpuMeter(pidsOf);
    const t0 = performance.now();
    const results = await run(seconds);
    const wall = (performance.now() - t0) / 1000;
    const accepted = results.reduce((n, r) => n + r['2xx'] * POST_EVENTS, 0);
    const cpu = await meter.since(pidsOf);
    return { layout, hubs, events_per_s: Math.round(accepted / wall), ...cpuFigures(cpu, accepted, wall) };
  } finally {
    pin([process.pid], `0-${CORES - 1}`);
    await Promise.all(procs.map((p) => p.stop('SIGTERM', 30_000)));
  }
}
