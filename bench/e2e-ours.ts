/**
 * Our side of the end-to-end bench (bench/e2e.bench.ts), as bench/e2e-references.ts is BullMQ's and the ceilings':
 * events over HTTP through the real hub and processor, the processor alone draining a backlog, and the latency run.
 */
import http from 'node:http';
import type pg from 'pg';
import { sleep } from '@telemetryhub/service-kit';
import { createRedis, queueKeys } from '@telemetryhub/queue';
import { analyzeTasks, chunks, liveBodies, rowCount, type BenchEvent } from './e2e-references.js';
import { pacedLoad } from './paced-load.js';
import { postJson } from './http-post.js';
import { processCpuSeconds, processMemoryMiB } from './process-stats.js';
import { postgresCpu, postgresCpuPerEvent } from './pg-cpu.js';
import { expectRows, foldSecondsSoFar, foldsSoFar, storedSoFar, waitForFolded, waitForStored } from './stored-rows.js';
import { sealBuckets } from '../apps/task-processor/src/store/rollup-sealer.js';
import { MINUTE_MS } from '../apps/task-processor/src/store/rollup-seal.repo.js';
import { PartitionManager } from '../apps/task-processor/src/store/partitions.js';

/** Events per POST, and POSTs in flight, as a gateway batching its readings sends them. */
const PER_POST = 100;
const CONNECTIONS = 32;
const progress = (s: string) => process.stderr.write(`[bench] ${s}\n`);

/**
 * Ours: POST every event to the hub (`CONNECTIONS` at once, keep-alive), until all are rows in `readings` and their
 * complete minutes sealed. Events/s, and the CPU per event the hub, the processor and this process's load generator
 * spent meanwhile (the load generator stands in for the gateways, which run elsewhere: its share of the two cores is
 * the bench's, reported so that it can be told apart).
 */
export async function ours(
  db: pg.Pool,
  hubUrl: string,
  processorUrl: string,
  events: BenchEvent[],
  pids: { hub: number | undefined; processor: number | undefined },
): Promise<{ rate: number; hubCpuMicros: number; processorCpuMicros: number; loadCpuMicros: number }> {
  const before = await rowCount(db, 'readings');
  const storedBefore = await storedSoFar([processorUrl]);
  const bodies = chunks(events, PER_POST).map((c) => Buffer.from(JSON.stringify(c)));
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const hub0 = await processCpuSeconds(pids.hub);
  const processor0 = await processCpuSeconds(pids.processor);
  const load0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  const client = async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      for (;;) {
        const answer = await postJson(agent, `${hubUrl}/v1/telemetry`, body, 60_000);
        if (answer.status === 202) break;
        await sleep(Number(answer.retryAfter ?? 1) * 1000); // backpressure: resend
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: CONNECTIONS }, client));
  } finally {
    agent.destroy();
  }
  const load = process.cpuUsage(load0);
  await waitForStored([processorUrl], storedBefore + events.length);
  await sealMinutesOf(db, events, { newest: false });
  const rate = events.length / ((performance.now() - t0) / 1000);
  const perEvent = (seconds: number) => (seconds * 1e6) / events.length;
  const result = {
    rate,
    hubCpuMicros: perEvent((await processCpuSeconds(pids.hub)) - hub0),
    processorCpuMicros: perEvent((await processCpuSeconds(pids.processor)) - processor0),
    loadCpuMicros: perEvent((load.user + load.system) / 1e6),
  };
  await expectRows(db, before + events.length);
  return result;
}

/**
 * The processor alone, draining a backlog as BullMQ's worker does in its reference: every task pushed into the
 * queue first (as the hub publishes them: 500 readings a task), timed until all are rows, folded, and their minutes
 * sealed. Events/s, and the
 * processor's largest resident memory while it drained (sampled every 100 ms).
 */
export async function backlog(
  db: pg.Pool,
  redisUrl: string,
  processorUrl: string,
  events: BenchEvent[],
  pid: number | undefined,
  postgresPid: number | undefined,
): Promise<{
  rate: number;
  rssMiB: number;
  cpuMicros: number;
  postgres: ReturnType<typeof postgresCpuPerEvent>;
  /** Folds committed while it drained: each writes a row per series it saw, so their number drives the cost. */
  folds: number;
  /** Seconds those folds' transactions took. */
  foldSeconds: number;
}> {
  const redis = createRedis(redisUrl, { commandTimeoutMs: 60_000 });
  const before = await rowCount(db, 'readings');
  const storedBefore = await storedSoFar([processorUrl]);
  const foldsBefore = await foldsSoFar([processorUrl]);
  const foldSecondsBefore = await foldSecondsSoFar([processorUrl]);
  const tasks = analyzeTasks(events);
  let rssMiB = 0;
  const sampler = setInterval(() => {
    void processMemoryMiB(pid).then((m) => (rssMiB = Math.max(rssMiB, m.rss)));
  }, 100);
  try {
    const cpu0 = await processCpuSeconds(pid);
    const pgCpu0 = await postgresCpu(db, postgresPid);
    const t0 = performance.now();
    for (const part of chunks(tasks, 100)) await redis.lpush(queueKeys('tasks').pending, ...part);
    await waitForStored([processorUrl], storedBefore + events.length);
    await waitForFolded([processorUrl]);
    await sealMinutesOf(db, events, { newest: true });
    const rate = events.length / ((performance.now() - t0) / 1000);
    const perEvent = (seconds: number) => (seconds * 1e6) / events.length;
    const result = {
      rate,
      rssMiB,
      cpuMicros: perEvent((await processCpuSeconds(pid)) - cpu0),
      postgres: postgresCpuPerEvent(pgCpu0, await postgresCpu(db, postgresPid), events.length),
      folds: (await foldsSoFar([processorUrl])) - foldsBefore,
      foldSeconds: (await foldSecondsSoFar([processorUrl])) - foldSecondsBefore,
    };
    await expectRows(db, before + events.length);
    return result;
  } finally {
    clearInterval(sampler);
    redis.disconnect();
  }
}

/**
 * Seals the minutes `events` fall in, as the processor does a minute after each is over, inside the phase's timing:
 * each of our phases pays for its minute rollups, not a later phase (BullMQ's). Without `newest`, the minute of the
 * newest event is left open: the next phase's events fall in it too, and that phase seals it (early: readings of it
 * stored later are late, and folded into its row).
 */
async function sealMinutesOf(db: pg.Pool, events: readonly BenchEvent[], o: { newest: boolean }): Promise<void> {
  let newest = -Infinity;
  for (const e of events) newest = Math.max(newest, Date.parse(e.event_time));
  const until = (Math.floor(newest / MINUTE_MS) + (o.newest ? 1 : 0)) * MINUTE_MS;
  await sealBuckets(db, new PartitionManager(db), '1m', until, 24 * 60);
}

/**
 * A steady `rate` (events/s) through the hub for `seconds`, from devices named `<prefix>-<n>`: latency from event
 * time to the row (stored_at) of the readings stored since the window began.
 */
export async function latencyRun(
  db: pg.Pool,
  hubUrl: string,
  processorUrl: string,
  o: { rate: number; seconds: number; devices: number; prefix: string },
): Promise<{ p50Ms: number; p99Ms: number; kept: number; refusedRequests: number }> {
  const { body, made } = liveBodies(o.prefix, o.devices, PER_POST);
  const before = await rowCount(db, 'readings');
  // The fleet's devices reported in earlier phases too: this window's rows are those stored from now on.
  const { rows: started } = await db.query<{ now: string }>('SELECT now()::text AS now');
  const storedBefore = await storedSoFar([processorUrl]);
  const load = await pacedLoad(`${hubUrl}/v1/telemetry`, body, o.rate / PER_POST, o.seconds, 256);
  // Only acknowledged requests' readings are owed a row; a refused one (429 under overload) is the client's to retry.
  const refused = load.non2xx + load.errors;
  if (refused) {
    progress(
      `  refused: ${JSON.stringify(load.non2xxByStatus)}, connection errors ${JSON.stringify(load.errorsByCode)}`,
    );
  }
  await waitForStored([processorUrl], storedBefore + made() - refused * PER_POST);
  await expectRows(db, before + made() - refused * PER_POST);
  const { rows } = await db.query<{ p50: number; p99: number }>(
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99
       FROM (SELECT extract(epoch FROM stored_at - event_time) * 1000 AS ms FROM readings
              WHERE device_id LIKE $1 AND stored_at >= $2) s`,
    [`${o.prefix}-%`, started[0]!.now],
  );
  return {
    p50Ms: Math.round(rows[0]!.p50),
    p99Ms: Math.round(rows[0]!.p99),
    kept: load.requestsPerSecond * PER_POST,
    refusedRequests: refused,
  };
}
