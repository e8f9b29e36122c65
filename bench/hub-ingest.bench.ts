/**
 * Hub ingest benchmark, two parts, each reported as a ratio to a reference measured in the same run (these
 * machines are shared and noisy: absolute numbers move, ratios much less).
 * Usage: npm run bench:hub -- [--events N] [--duration S] [--connections C] [--json]
 *
 * 1. Sensors → Redis (hub-sensors.ts), in one process: the simulated driver (1000 devices × 5 metrics) → ring buffer → batcher →
 *    pipelined LPUSH, until every reading is in Redis. Reference: the same task JSON, already serialised, pushed
 *    again with pipelined LPUSH (the transport's ceiling for those bytes).
 * 2. HTTP ingest: a real hub process (as `npm run hub` runs it) loaded by autocannon with batched POSTs of 100
 *    events in the original gateway shape. Reference: a bare node:http server in a child process that reads the
 *    body, JSON.parses it and answers 202 (the floor of any Node HTTP ingest), under the same load. Two runs: as
 *    fast as the hub answers (its capacity, and its CPU time per event, steadier than throughput on a shared
 *    machine), then at a steady target rate (--rate, 100k events/s; `paced-load.ts`) for the accept latency at
 *    that load: with a fixed number of connections kept busy, latency is only queueing (connections ÷
 *    throughput), so p99 is measured where it means something.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { RedisServer, ServerProcess, freePort } from '@telemetryhub/testkit';
import { sleep } from '@telemetryhub/service-kit';
import { scrapeMetric, startAppProcess, waitReady } from '../scripts/local-pipeline.js';
import { processCpuSeconds, processMemoryMiB } from './process-stats.js';
import { pacedLoad } from './paced-load.js';
import { sensorsToRedis } from './hub-sensors.js';
import { median } from './median.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    rate: { type: 'string', default: '100000' },
    'access-log-rounds': { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(
    'npm run bench:hub -- [--events N (1000000, sensors → Redis)] [--duration S (10, per HTTP run)] [--connections C (32)]\n' +
      '                     [--rate EVENTS_PER_S (100000, the latency run)] [--access-log-rounds N (3: hubs with the access log on and off, paired)] [--json]',
  );
  process.exit(0);
}
const EVENTS = Number(values.events);
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const TARGET_RATE = Number(values.rate);
const ACCESS_LOG_ROUNDS = Number(values['access-log-rounds']);
const EVENTS_PER_POST = 100;
const progress = (s: string) => process.stderr.write(`[bench] ${s}\n`);

/** A batch of events in the original gateway's shape, as a batch POST carries it. */
function postBody(): string {
  const t = Date.now() - 5000;
  return JSON.stringify(
    Array.from({ length: EVENTS_PER_POST }, (_, i) => ({
      device_id: `line-${i % 20}`,
      type: ['temperature', 'humidity', 'pressure', 'voltage', 'current'][i % 5],
      value: 20 + (i % 7) / 10,
      unit: ['C', '%', 'hPa', 'V', 'A'][i % 5],
      timestamp: new Date(t + i).toISOString(),
      metadata: { location: 'zone-3', firmware_version: '2.3.1' },
    })),
  );
}

/** Autocannon for DURATION s, as fast as the server answers. */
async function load(url: string, body: string) {
  const r = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections: CONNECTIONS,
    duration: DURATION,
  });
  return {
    requestsPerSecond: r.requests.average,
    eventsPerSecond: r.requests.average * EVENTS_PER_POST,
    acceptedEvents: r['2xx'] * EVENTS_PER_POST,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
}

/** The reference server: node:http, the body read and JSON.parsed, 202. Nothing else. */
const BARE_SERVER = `
const http = require('node:http');
http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const events = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    res.writeHead(202, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ accepted: events.length }));
  });
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

type AckMode = 'durable' | 'memory';
/** Hub CPU time per accepted event over a run of load. */
type WithCpu = <T extends { acceptedEvents: number }>(
  run: () => Promise<T>,
) => Promise<T & { cpuMicrosPerEvent: number }>;

/**
 * A fresh hub process (as `npm run hub` runs it) with `ackMode` and ACCESS_LOG=`accessLog` (`all`: the default, a
 * line per request), warmed up, handed to `measure`, then stopped.
 */
async function withHub<T>(
  redisUrl: string,
  body: string,
  ackMode: AckMode,
  accessLog: 'all' | 'off',
  measure: (hubUrl: string, withCpu: WithCpu, pid: number | undefined) => Promise<T>,
): Promise<T> {
  const spoolDir = await mkdtemp(join(tmpdir(), 'bench-hub-spool-'));
  const hubPort = await freePort();
  const hub = startAppProcess('hub', {
    ...process.env,
    REDIS_URL: redisUrl,
    QUEUE_NAME: `bench-http-${ackMode}`,
    HUB_PORT: String(hubPort),
    SIM_DEVICES: '0',
    SPOOL_DIR: spoolDir,
    BUFFER_CAPACITY: '1000000',
    ACK_MODE: ackMode,
    ACCESS_LOG: accessLog,
    // Info, as the default: the access log is written at info, so at warn it would be built and dropped.
    LOG_LEVEL: 'info',
    NODE_ENV: 'production',
  });
  try {
    const hubUrl = `http://127.0.0.1:${hubPort}`;
    await waitReady(hubUrl, hub, 'hub', 60_000);
    progress(`ACK_MODE=${ackMode}, ACCESS_LOG=${accessLog}: warming the hub up (2 s)`);
    await autocannon({
      url: `${hubUrl}/telemetry`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      connections: 8,
      duration: 2,
    });
    const withCpu: WithCpu = async (run) => {
      const cpuBefore = await processCpuSeconds(hub.pid);
      const r = await run();
      const cpuMicrosPerEvent = ((await processCpuSeconds(hub.pid)) - cpuBefore) / r.acceptedEvents / 1e-6;
      return { ...r, cpuMicrosPerEvent };
    };
    return await measure(hubUrl, withCpu, hub.pid);
  } finally {
    await hub.stop('SIGTERM', 30_000);
    await rm(spoolDir, { recursive: true, force: true });
  }
}

/** As fast as the hub answers. */
function flatOut(hubUrl: string, body: string, withCpu: WithCpu, what: string) {
  progress(
    `${what}: hub POST /telemetry (${EVENTS_PER_POST} events per request), ${CONNECTIONS} connections, ${DURATION} s`,
  );
  return withCpu(() => load(`${hubUrl}/telemetry`, body));
}

/** One hub process measured: as fast as it answers, then at half the target rate and at the target rate. */
function measureHub(redisUrl: string, body: string, ackMode: AckMode) {
  return withHub(redisUrl, body, ackMode, 'all', async (hubUrl, withCpu, pid) => {
    const ours = await flatOut(hubUrl, body, withCpu, `ACK_MODE=${ackMode}`);
    const steady = async (eventsPerSecond: number) => {
      progress(
        `ACK_MODE=${ackMode}: hub POST /telemetry at a steady ${eventsPerSecond} events/s, ${CONNECTIONS} connections, ${DURATION} s`,
      );
      const url = `${hubUrl}/telemetry`;
      return withCpu(async () => {
        const r = await pacedLoad(url, body, eventsPerSecond / EVENTS_PER_POST, DURATION, CONNECTIONS);
        const events = r.requestsPerSecond * EVENTS_PER_POST;
        return { ...r, eventsPerSecond: events, acceptedEvents: Math.max(1, events * DURATION) };
      });
    };
    const atHalfRate = await steady(TARGET_RATE / 2);
    const atRate = await steady(TARGET_RATE);
    return {
      ackMode,
      ours,
      hubCpuMicrosPerEvent: ours.cpuMicrosPerEvent,
      atHalfRate,
      atRate,
      hubPeakRssMiB: (await processMemoryMiB(pid)).peak,
      bufferDropped: await scrapeMetric(hubUrl, 'telemetryhub_hub_buffer_dropped_readings_total'),
      published: await scrapeMetric(hubUrl, 'telemetryhub_hub_published_readings_total'),
    };
  });
}

async function httpIngest(redisUrl: string) {
  const body = postBody();
  const bareServerPort = await freePort();
  const bare = new ServerProcess(process.execPath, ['-e', BARE_SERVER], {
    parentDeathSignal: 'SIGTERM',
    env: { ...process.env, PORT: String(bareServerPort) },
  });
  try {
    await sleep(300);
    progress(`reference: bare node:http + JSON.parse, ${CONNECTIONS} connections, ${DURATION} s`);
    const reference = await load(`http://127.0.0.1:${bareServerPort}/`, body);
    await bare.stop('SIGTERM');
    // The default (202 once durable in Redis or the spool), then the weaker mode, each in a fresh hub.
    const durable = await measureHub(redisUrl, body, 'durable');
    const memory = await measureHub(redisUrl, body, 'memory');
    // What the access log costs (on by default: a line per request): fresh hubs with it on and off, flat out, in
    // paired rounds (one run each is within this machine's noise).
    const accessLog = [];
    for (let round = 1; round <= ACCESS_LOG_ROUNDS; round++) {
      const pair = [];
      for (const mode of ['all', 'off'] as const) {
        pair.push(
          await withHub(redisUrl, body, 'durable', mode, (hubUrl, withCpu) =>
            flatOut(hubUrl, body, withCpu, `round ${round}/${ACCESS_LOG_ROUNDS}, ACCESS_LOG=${mode}`),
          ),
        );
      }
      accessLog.push({ on: pair[0]!, off: pair[1]! });
    }
    const accessLogCost = {
      rounds: accessLog.map((r) => ({ onMicros: r.on.cpuMicrosPerEvent, offMicros: r.off.cpuMicrosPerEvent })),
      onMicrosPerEvent: median(accessLog.map((r) => r.on.cpuMicrosPerEvent)),
      offMicrosPerEvent: median(accessLog.map((r) => r.off.cpuMicrosPerEvent)),
      costRatio: median(accessLog.map((r) => r.on.cpuMicrosPerEvent / r.off.cpuMicrosPerEvent)),
    };
    return { reference, ...durable, memory, accessLogCost };
  } finally {
    await bare.stop('SIGKILL', 1000);
  }
}

async function main(): Promise<void> {
  progress('starting a throwaway redis-server');
  const server = await RedisServer.start({ extraArgs: ['--maxmemory', '0'] });
  try {
    const sensors = await sensorsToRedis(server.url, EVENTS);
    const http = await httpIngest(server.url);
    const result = {
      sensors,
      http,
      ratios: {
        sensors_vs_raw_lpush: sensors.oursPerSecond / sensors.rawLpushPerSecond,
        http_vs_bare_node: http.ours.eventsPerSecond / http.reference.eventsPerSecond,
      },
    };
    if (values.json) {
      console.log(JSON.stringify(result, null, 2));
      return;
    }
    const k = (n: number) => `${Math.round(n / 1000)}k`;
    const mark = (ok: boolean) => (ok ? 'met' : 'NOT met');
    console.log(`\nHub ingest, one redis-server on loopback\n`);
    console.log(
      `Sensors → Redis (${sensors.readings} readings, ${sensors.tasks} tasks, ${sensors.bytesPerReading.toFixed(0)} bytes/reading)`,
    );
    console.log(
      `  simulator alone (generating readings)        ${k(sensors.simulatorOnlyPerSecond).padStart(6)} readings/s`,
    );
    console.log(`  simulator → buffer → publisher → Redis        ${k(sensors.oursPerSecond).padStart(6)} readings/s`);
    console.log(
      `  reference: same task JSON, pipelined LPUSH    ${k(sensors.rawLpushPerSecond).padStart(6)} readings/s`,
    );
    console.log(
      `  = ${(result.ratios.sensors_vs_raw_lpush * 100).toFixed(0)}% of raw LPUSH; target ≥ 200k readings/s: ${mark(sensors.oursPerSecond >= 200_000)}`,
    );
    console.log(
      `\nHTTP ingest (${EVENTS_PER_POST} events per POST, ${CONNECTIONS} connections, ${DURATION} s, autocannon)`,
    );
    for (const [name, r] of [
      ['reference: bare node:http + JSON.parse', http.reference],
      ['hub POST /telemetry (validate, 202 once durable)', http.ours],
      [`hub at a steady ${k(TARGET_RATE / 2)} events/s`, http.atHalfRate],
      [`hub at a steady ${k(TARGET_RATE)} events/s`, http.atRate],
    ] as const) {
      console.log(
        `  ${name.padEnd(50)} ${k(r.eventsPerSecond).padStart(6)} events/s  p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  non-2xx ${r.non2xx}  errors ${r.errors}`,
      );
    }
    for (const [name, r] of [
      [`ACK_MODE=memory: hub at a steady ${k(TARGET_RATE / 2)} events/s`, http.memory.atHalfRate],
      [`ACK_MODE=memory: hub at a steady ${k(TARGET_RATE)} events/s`, http.memory.atRate],
    ] as const) {
      console.log(
        `  ${name.padEnd(50)} ${k(r.eventsPerSecond).padStart(6)} events/s  p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  non-2xx ${r.non2xx}  errors ${r.errors}`,
      );
    }
    console.log(
      `  CPU per event, durable vs memory ack: ${http.atHalfRate.cpuMicrosPerEvent.toFixed(1)} vs ${http.memory.atHalfRate.cpuMicrosPerEvent.toFixed(1)} µs at ${k(TARGET_RATE / 2)}/s, ` +
        `${http.atRate.cpuMicrosPerEvent.toFixed(1)} vs ${http.memory.atRate.cpuMicrosPerEvent.toFixed(1)} µs at ${k(TARGET_RATE)}/s`,
    );
    const keptUp = http.atRate.eventsPerSecond >= TARGET_RATE * 0.98 && http.atRate.non2xx + http.atRate.errors === 0;
    console.log(
      `  = ${(result.ratios.http_vs_bare_node * 100).toFixed(0)}% of bare node:http, ${http.hubCpuMicrosPerEvent.toFixed(1)} µs of hub CPU per event; ` +
        `target ≥ 100k events/s: ${mark(http.ours.eventsPerSecond >= 100_000)}, ` +
        `p99 < 50 ms at ${k(TARGET_RATE)} events/s: ${mark(keptUp && http.atRate.p99Ms < 50)}`,
    );
    const al = http.accessLogCost;
    console.log(
      `  access log on (ACCESS_LOG=all, the default) vs off, flat out, ${ACCESS_LOG_ROUNDS} paired rounds: ` +
        `${al.onMicrosPerEvent.toFixed(1)} vs ${al.offMicrosPerEvent.toFixed(1)} µs of hub CPU per event (medians; ` +
        `on ÷ off ${al.costRatio.toFixed(2)}; by round ${al.rounds.map((r) => (r.onMicros / r.offMicros).toFixed(2)).join(', ')})`,
    );
    console.log(
      `  hub peak RSS ${http.hubPeakRssMiB.toFixed(0)} MiB; readings published to Redis ${http.published}, dropped at the buffer ${http.bufferDropped}`,
    );
  } finally {
    await server.stop();
  }
}

main().catch((err) => {
  console.error('[bench] failed:', err);
  process.exit(1);
});
