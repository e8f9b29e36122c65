/**
 * Scaling out on one machine: 1, 2 and 4 task-processor replicas draining the same backlog (the real processes,
 * durable PostgreSQL, the benchmarks' fleet), in two layouts — everything sharing every core, and isolated with
 * `taskset` (PostgreSQL and Redis on core 0, the processors on the other cores) — with the CPU each part used per
 * event, so that where the curve stops can be read off: the part whose core is full. Then the queue sharded over a
 * 3-primary Redis Cluster (`QUEUE_SHARDS=3`, one shard per primary) with 1 and 3 replicas (`--cluster-replicas`).
 * Then hub replicas (`--hubs`, default 1,2,4) behind one Redis taking HTTP ingest flat out (autocannon, 100 events
 * per POST, durable acks), shared and isolated (Redis and the load generator on core 0, the hubs on the others).
 *
 * Writes bench/results/scale-latest.json and a chart, scale-curve.png. Usage: npm run bench:scale -- [--quick] [--events N] [--replicas 1,2,4]
 *   [--json]
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { PostgresServer, RedisCluster, RedisServer, freePort, type ServerProcess } from '@telemetryhub/testkit';
import { createRedis, queueKeys, shardQueueNames } from '@telemetryhub/queue';
import { FLEET_METRICS, analyzeTasks, chunks, fleetEvents, rowCount } from './e2e-references.js';
import { expectRows, storedSoFar, waitForStored } from './stored-rows.js';
import { startAppProcess, waitReady } from '../scripts/local-pipeline.js';
import { machine } from './process-stats.js';
import { scalePng } from './scale-chart.js';
import { CORES, cpuFigures, cpuMeter, pin, withChildren } from './cpu-pinning.js';
import { POST_EVENTS, ingest, type HubPoint } from './scale-hubs.js';
import { sealBuckets } from '../apps/task-processor/src/store/rollup-sealer.js';
import { HOUR_MS } from '../apps/task-processor/src/store/rollup-seal.repo.js';
import { PartitionManager } from '../apps/task-processor/src/store/partitions.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    events: { type: 'string' },
    replicas: { type: 'string', default: '1,2,4' },
    'cluster-replicas': { type: 'string', default: '1,3' },
    hubs: { type: 'string', default: '1,2,4' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (values.help) {
  console.log(
    'npm run bench:scale -- [--quick] [--events N (200000; quick 40000)] [--replicas 1,2,4] [--cluster-replicas 1,3 (0: no cluster)] [--hubs 1,2,4 (0: none)] [--json]',
  );
  process.exit(0);
}
const EVENTS = Number(values.events ?? (values.quick ? 40_000 : 200_000));
const REPLICAS = values.replicas.split(',').map(Number);
const CLUSTER_REPLICAS = values['cluster-replicas'] === '0' ? [] : values['cluster-replicas'].split(',').map(Number);
const HUBS = values.hubs === '0' ? [] : values.hubs.split(',').map(Number);
/** Seconds of flat-out HTTP load per hub point. */
const HUB_SECONDS = values.quick ? 5 : 15;
if (
  !Number.isInteger(EVENTS) ||
  EVENTS < 1000 ||
  [...REPLICAS, ...CLUSTER_REPLICAS, ...HUBS].some((n) => !Number.isInteger(n) || n < 1)
) {
  console.error('--events must be ≥ 1000 and --replicas, --cluster-replicas, --hubs whole numbers ≥ 1, e.g. 1,2,4');
  process.exit(2);
}
const DEVICES = 1000;
const progress = (s: string) => process.stderr.write(`[bench] ${s}\n`);

/** Cluster shards: one per primary. */
const CLUSTER_SHARDS = 3;

/** Where the queue lives: one server, or a cluster the queue is sharded over. */
interface QueueTarget {
  url: string;
  pids: number[];
  shards: number;
}

interface Point {
  layout: 'shared' | 'isolated' | 'cluster';
  replicas: number;
  events_per_s: number;
  /** CPU per event of each part (µs): the processors together, PostgreSQL (all its processes), Redis. */
  cpu_us_per_event: { processors: number; postgres: number; redis: number };
  /** Cores each part kept busy while draining (CPU seconds ÷ wall seconds). */
  cores_busy: { processors: number; postgres: number; redis: number };
}

async function drain(
  layout: Point['layout'],
  replicas: number,
  target: QueueTarget,
  postgres: PostgresServer,
  db: pg.Pool,
): Promise<Point> {
  const procs: ServerProcess[] = [];
  const urls: string[] = [];
  try {
    for (let i = 0; i < replicas; i++) {
      const port = await freePort();
      const proc = startAppProcess('task-processor', {
        ...process.env,
        DATABASE_URL: postgres.url,
        REDIS_URL: target.url,
        QUEUE_SHARDS: String(target.shards),
        PROCESSOR_PORT: String(port),
        LOG_LEVEL: 'warn',
        NODE_ENV: 'production',
      });
      procs.push(proc);
      urls.push(`http://127.0.0.1:${port}`);
      await waitReady(urls[i]!, proc, 'task-processor', 120_000);
    }
    const everything = `0-${CORES - 1}`;
    const apps = `${CORES > 1 ? 1 : 0}-${CORES - 1}`;
    pin(withChildren(postgres.pid), layout === 'isolated' ? '0' : everything);
    pin(target.pids, layout === 'isolated' ? '0' : everything);
    pin(
      procs.map((p) => p.pid!),
      layout === 'isolated' ? apps : everything,
    );
    const tasks = analyzeTasks(
      fleetEvents(EVENTS, { series: DEVICES * FLEET_METRICS.length, prefix: `scale-${randomUUID().slice(0, 8)}` }),
    );
    const client = createRedis(target.url, { commandTimeoutMs: 60_000 });
    const before = await rowCount(db, 'readings');
    const storedBefore = await storedSoFar(urls);
    const pidsOf = () => ({
      processors: procs.map((p) => p.pid!),
      postgres: withChildren(postgres.pid),
      redis: target.pids,
    });
    const meter = await cpuMeter(pidsOf());
    const t0 = performance.now();
    // Round-robin over the shards (each shard's keys live on one primary), as a sharded producer spreads devices.
    const shards = target.shards > 1 ? shardQueueNames('tasks', target.shards) : ['tasks'];
    for (let s = 0; s < shards.length; s++) {
      const mine = tasks.filter((_, i) => i % shards.length === s);
      for (const part of chunks(mine, 100)) await client.lpush(queueKeys(shards[s]!).pending, ...part);
    }
    client.disconnect();
    await waitForStored(urls, storedBefore + EVENTS);
    const wall = (performance.now() - t0) / 1000;
    const cpu = await meter.since(pidsOf());
    await expectRows(db, before + EVENTS);
    return { layout, replicas, events_per_s: Math.round(EVENTS / wall), ...cpuFigures(cpu, EVENTS, wall) };
  } finally {
    await Promise.all(procs.map((p) => p.stop('SIGTERM', 30_000)));
  }
}

interface Storage {
  table: string;
  rows: number;
  bytes: number;
  bytes_per_row: number;
}

/**
 * What the raw and rollup tables take on disk per row: every partition's heap, indexes and TOAST — once the run's
 * minutes and hours are sealed (early, for the current ones: the processor seals each once it is over).
 */
async function storageOf(db: pg.Pool): Promise<Storage[]> {
  const partitions = new PartitionManager(db);
  const nextHour = (Math.floor(Date.now() / HOUR_MS) + 1) * HOUR_MS;
  await sealBuckets(db, partitions, '1m', nextHour, 24 * 60);
  await sealBuckets(db, partitions, '1h', nextHour, 24);
  const out: Storage[] = [];
  for (const table of ['readings', 'rollups_1m', 'rollups_1h']) {
    const { rows } = await db.query<{ rows: string; bytes: string }>(
      `SELECT (SELECT count(*) FROM ${table}) AS rows,
              (SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('${table}')) AS bytes`,
    );
    const n = Number(rows[0]!.rows);
    const bytes = Number(rows[0]!.bytes);
    out.push({ table, rows: n, bytes, bytes_per_row: n ? Math.round(bytes / n) : 0 });
  }
  return out;
}

async function main(): Promise<void> {
  progress(`starting redis-server and a durable PostgreSQL; ${CORES} cores; ${EVENTS} events per drain`);
  const redis = await RedisServer.start({ extraArgs: ['--maxmemory', '0'] });
  const postgres = await PostgresServer.start({ durable: true });
  const db = new pg.Pool({ connectionString: postgres.url, max: 2 });
  db.on('error', () => {});
  const points: Point[] = [];
  const hubPoints: HubPoint[] = [];
  let storage: Storage[] = [];
  try {
    for (const layout of ['shared', 'isolated'] as const) {
      if (layout === 'isolated' && CORES < 2) continue;
      for (const n of REPLICAS) {
        progress(`${layout}: ${n} processor replica(s) draining ${EVENTS} events`);
        const p = await drain(layout, n, { url: redis.url, pids: [redis.pid!], shards: 1 }, postgres, db);
        progress(
          `  ${p.events_per_s} events/s; cores busy: processors ${p.cores_busy.processors}, PostgreSQL ${p.cores_busy.postgres}, Redis ${p.cores_busy.redis}`,
        );
        points.push(p);
      }
    }
    if (CLUSTER_REPLICAS.length) {
      progress(`starting a Redis Cluster of ${CLUSTER_SHARDS} primaries; the queue sharded over them`);
      const cluster = await RedisCluster.start({ masters: CLUSTER_SHARDS, replicasPerMaster: 0 });
      try {
        const target = { url: cluster.url, pids: cluster.nodes.map((n) => n.pid!), shards: CLUSTER_SHARDS };
        for (const n of CLUSTER_REPLICAS) {
          progress(`cluster: ${n} processor replica(s) draining ${EVENTS} events`);
          const p = await drain('cluster', n, target, postgres, db);
          progress(
            `  ${p.events_per_s} events/s; cores busy: processors ${p.cores_busy.processors}, PostgreSQL ${p.cores_busy.postgres}, Redis ${p.cores_busy.redis}`,
          );
          points.push(p);
        }
      } finally {
        await cluster.stop();
      }
    }
    storage = await storageOf(db);
    for (const layout of ['shared', 'isolated'] as const) {
      if (layout === 'isolated' && CORES < 2) continue;
      for (const n of HUBS) {
        progress(`${layout}: ${n} hub replica(s) taking HTTP ingest flat out for ${HUB_SECONDS} s`);
        const h = await ingest(layout, n, redis, HUB_SECONDS);
        progress(
          `  ${h.events_per_s} events/s; cores busy: hubs ${h.cores_busy.hubs}, Redis ${h.cores_busy.redis}, load generator ${h.cores_busy.load_generator}`,
        );
        hubPoints.push(h);
      }
    }
  } finally {
    await db.end().catch(() => {});
    await redis.stop();
    await postgres.stop();
  }
  const result = {
    events: EVENTS,
    series: DEVICES * FLEET_METRICS.length,
    points,
    hub_points: hubPoints,
    storage,
    machine: machine(),
  };
  await mkdir(new URL('./results/', import.meta.url), { recursive: true });
  await writeFile(new URL('./results/scale-latest.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(
    new URL('./results/scale-curve.png', import.meta.url),
    scalePng(points, `Processor replicas on ${CORES} cores, draining ${EVENTS} events into durable PostgreSQL`),
  );
  if (hubPoints.length) {
    await writeFile(
      new URL('./results/hub-scale-curve.png', import.meta.url),
      scalePng(
        hubPoints.map((h) => ({ layout: h.layout, replicas: h.hubs, events_per_s: h.events_per_s })),
        `Hub replicas on ${CORES} cores, HTTP ingest into one Redis`,
        'hub replicas',
      ),
    );
  }
  if (values.json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  console.log(`\nScaling the processor on ${CORES} cores, ${EVENTS} events per drain (durable PostgreSQL)\n`);
  console.log(
    'layout    replicas  events/s  vs 1   µs/event: processors  PostgreSQL  Redis   cores busy: proc  PG    Redis',
  );
  for (const p of points) {
    const one = points.find((q) => q.layout === p.layout && q.replicas === 1)?.events_per_s ?? p.events_per_s;
    console.log(
      `${p.layout.padEnd(9)} ${String(p.replicas).padStart(8)} ${String(p.events_per_s).padStart(9)} ${(p.events_per_s / one).toFixed(2).padStart(5)}` +
        `   ${String(p.cpu_us_per_event.processors).padStart(19)} ${String(p.cpu_us_per_event.postgres).padStart(11)} ${String(p.cpu_us_per_event.redis).padStart(6)}` +
        `   ${String(p.cores_busy.processors).padStart(15)} ${String(p.cores_busy.postgres).padStart(5)} ${String(p.cores_busy.redis).padStart(6)}`,
    );
  }
  if (hubPoints.length) {
    console.log(
      `\nHub replicas behind one Redis, HTTP ingest flat out (${POST_EVENTS} events per POST, durable acks)\n`,
    );
    console.log('layout    hubs  events/s  vs 1   µs/event: hubs  Redis  load gen   cores busy: hubs  Redis  load gen');
    for (const h of hubPoints) {
      const one = hubPoints.find((q) => q.layout === h.layout && q.hubs === 1)?.events_per_s ?? h.events_per_s;
      console.log(
        `${h.layout.padEnd(9)} ${String(h.hubs).padStart(4)} ${String(h.events_per_s).padStart(9)} ${(h.events_per_s / one).toFixed(2).padStart(5)}` +
          `   ${String(h.cpu_us_per_event.hubs).padStart(13)} ${String(h.cpu_us_per_event.redis).padStart(6)} ${String(h.cpu_us_per_event.load_generator).padStart(9)}` +
          `   ${String(h.cores_busy.hubs).padStart(16)} ${String(h.cores_busy.redis).padStart(6)} ${String(h.cores_busy.load_generator).padStart(9)}`,
      );
    }
  }
  console.log('\nPostgreSQL storage after the runs (heap, indexes and TOAST of every partition):');
  for (const t of storage) {
    console.log(
      `  ${t.table.padEnd(12)} ${String(t.rows).padStart(10)} rows  ${(t.bytes / 2 ** 20).toFixed(1).padStart(8)} MiB  ${t.bytes_per_row} bytes/row`,
    );
  }
  console.log('\nwritten to bench/results/scale-latest.json, scale-curve.png and hub-scale-curve.png');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
