import pg from 'pg';
import { sleep } from '@telemetryhub/service-kit';
import { createRedis, queueDepths, queueKeys } from '@telemetryhub/queue';
import { scrapeMetric } from '../../scripts/local-pipeline.js';
import { machine, type Machine } from '../process-stats.js';
import { ChaosCluster, type ChaosTopology } from './cluster.js';
import { faultSchedule } from './faults.js';
import { Ledger, type LedgerEvent } from './ledger.js';
import { postOnce, produceOverHttp, produceOverLpush, pushPoison } from './producers.js';
import { verify, type Verdict } from './verify.js';

export interface ChaosOptions {
  quick: boolean;
  /**
   * Where Redis runs: one server (the default, with every fault), a primary and a replica behind a Sentinel, or a
   * Cluster — the last two with failovers among the faults.
   */
  topology?: ChaosTopology;
  /** Events sent (two thirds through the hub's HTTP ingest, one third by plain LPUSH). */
  events: number;
  progress: (line: string) => void;
}

/** Whether a verdict is what every run must show (tests/e2e/support/chaos-verdict.ts asserts each part). */
function holds(v: Verdict): boolean {
  return (
    v.lost === 0 &&
    v.duplicates === 0 &&
    v.unexpected === 0 &&
    v.stored === v.acknowledged &&
    v.dlq_entries === v.poison_sent &&
    v.dlq_matches_poison &&
    v.rollups_exact
  );
}

export interface ChaosResult extends Verdict {
  events: number;
  duplicates_sent: number;
  faults: Array<{ name: string; at_s: number; took_s: number; recovery_s: number }>;
  recovery_s: Record<string, number>;
  peak_rss_mib: Record<string, number>;
  timeline: Array<{ t_s: number; acknowledged: number; stored: number; queue_depth: number; spool_bytes: number }>;
  quick: boolean;
  machine: Machine;
  /** The apps' logs, kept when the verdict fails. */
  log_dir?: string;
}

const BATCH = 50;
/**
 * Short leases and orphan sweeps, so that work a killed processor held is back within seconds rather than the
 * production defaults' 30 s (what is measured is that nothing is lost, and how fast the system recovers).
 */
const APP_ENV = {
  SIM_DEVICES: '0',
  LOG_LEVEL: 'info',
  CONSUMER_LEASE_MS: '5000',
  FOLD_ORPHAN_AFTER_MS: '5000',
  FOLD_MAX_DELAY_MS: '2500', // at most half the orphan age
  RETRY_BASE_MS: '200',
  RETRY_MAX_MS: '2000',
  MAX_ATTEMPTS: '50',
};

/**
 * Pushes a known ledger of events through the hub's HTTP ingest and through plain LPUSH — with duplicates, out of
 * order, and poison — while injecting faults one after another; then waits for the queue and the fold to settle
 * and compares PostgreSQL and the DLQ with what producers were told.
 */
export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const { progress } = opts;
  const topology = opts.topology ?? 'single';
  const redisKind = {
    single: 'Redis (AOF)',
    sentinel: 'Redis (AOF) with a replica and a Sentinel',
    cluster: 'a Redis Cluster (3 primaries, a replica each)',
  };
  progress(`starting ${redisKind[topology]}, PostgreSQL (durable), the task-processor and the hub`);
  const cluster = await ChaosCluster.start(APP_ENV, { topology });
  const QUEUE = cluster.queue;
  const faults = faultSchedule(opts.quick, topology).filter((f) => {
    const possible = f.possible?.(cluster) ?? true;
    if (!possible) progress(`skipped, not possible on this machine (a small disk needs root to mount): ${f.name}`);
    return possible;
  });
  progress(`app logs: ${cluster.logDir} (removed after a run that settles)`);
  const redis = createRedis(cluster.redisUrl, { commandTimeoutMs: 2000 });
  // A pool, not one connection: PostgreSQL going away is one of the faults, and a pool connects again.
  const db = new pg.Pool({ connectionString: cluster.stack.postgres.url, max: 2, connectionTimeoutMillis: 5000 });
  db.on('error', () => {});
  const ledger = new Ledger();
  let settled = false;
  let keepLogs = false;
  const t0 = Date.now();
  const timeline: ChaosResult['timeline'] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      timeline.push(await sample(cluster, db, redis, ledger, t0));
      await cluster.samplePeaks();
      await sleep(500);
    }
  })();
  try {
    const all = ledger.generate(opts.events, 20, Date.now(), 10 * 60_000);
    const httpEvents = all.slice(0, Math.round((all.length * 2) / 3));
    const lpushEvents = all.slice(httpEvents.length);
    const carriers = chunk(lpushEvents.slice(0, 2 * BATCH), BATCH);
    // The producers run while the faults happen: spread over the schedule (about 10 s per fault).
    const span = (faults.length + 1) * 10_000;
    const httpBatches = chunk(httpEvents, BATCH);
    const lpushBatches = chunk(lpushEvents.slice(2 * BATCH), BATCH);
    let producing = true;
    const producers = Promise.all([
      produceOverHttp(() => cluster.hubUrl, httpBatches, ledger, {
        duplicateEvery: 7,
        pauseMs: span / httpBatches.length,
        stop: () => !producing,
      }),
      produceOverLpush(redis, QUEUE, lpushBatches, ledger, {
        pauseMs: span / Math.max(1, lpushBatches.length),
        stop: () => !producing,
      }),
    ]);
    await pushPoison(redis, QUEUE, ledger, carriers);

    const done: ChaosResult['faults'] = [];
    for (const fault of faults) {
      await sleep(3000);
      progress(`fault: ${fault.name}`);
      const at = Date.now();
      await fault.inject(cluster);
      const lifted = Date.now();
      const recovery = await timeToVisible(cluster, db, ledger, lifted);
      done.push({
        name: fault.name,
        at_s: seconds(at - t0),
        took_s: seconds(lifted - at),
        recovery_s: seconds(recovery),
      });
      progress(`  recovered: a reading sent ${seconds(recovery)} s before it was visible in PostgreSQL`);
    }
    progress('faults done; waiting for the producers to finish');
    const deadline = setTimeout(() => (producing = false), 180_000);
    await producers;
    clearTimeout(deadline);
    progress('waiting for the queue, the spool and the fold to settle');
    await settle(cluster, db, redis, QUEUE);
    settled = true;
    const verdict = await verify(db, redis, QUEUE, ledger);
    // A run whose verdict fails keeps its apps' logs, to read what happened to the readings and dead letters.
    keepLogs = !holds(verdict);
    await cluster.samplePeaks();
    return {
      events: opts.events,
      duplicates_sent: ledger.resent,
      ...verdict,
      ...(keepLogs ? { log_dir: cluster.logDir } : {}),
      faults: done,
      recovery_s: Object.fromEntries(done.map((f) => [f.name, f.recovery_s])),
      peak_rss_mib: cluster.peakMiB,
      timeline,
      quick: opts.quick,
      machine: machine(),
    };
  } finally {
    sampling = false;
    await sampler;
    redis.disconnect();
    await db.end().catch(() => {});
    await cluster.stop(!settled || keepLogs);
  }
}

/**
 * From the moment a fault is lifted until a probe reading, sent through the hub then (retried until a 202, as
 * any producer would), is visible in PostgreSQL (ms).
 */
async function timeToVisible(cluster: ChaosCluster, db: pg.Pool, ledger: Ledger, lifted: number): Promise<number> {
  const [probe] = ledger.generate(1, 1, Date.now(), 0) as [LedgerEvent];
  while (!(await postOnce(cluster.hubUrl, [probe]))) await sleep(100);
  ledger.acknowledge([probe]);
  for (;;) {
    const { rowCount } = await db.query('SELECT 1 FROM readings WHERE event_id = $1', [probe.event_id]).catch(() => ({
      rowCount: 0,
    }));
    if (rowCount) return Date.now() - lifted;
    if (Date.now() - lifted > 300_000) throw new Error('no recovery within 5 minutes');
    await sleep(100);
  }
}

/** Until nothing waits anywhere: queue (pending, held, delayed), the hub's spool, and batches not yet folded. */
async function settle(
  cluster: ChaosCluster,
  db: pg.Pool,
  redis: ReturnType<typeof createRedis>,
  queue: string,
): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const d = await queueDepths(redis, queue);
    const spool = await scrapeMetric(cluster.hubUrl, 'telemetryhub_hub_spool_records').catch(() => 1);
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM fold_pending');
    if (d.pending + d.processing + d.delayed === 0 && spool === 0 && rows[0]!.n === 0) return;
    if (Date.now() > deadline) {
      const waiting = { queue: d, spool_records: spool, unfolded_batches: rows[0]!.n };
      throw new Error(`not settled after 5 minutes: ${JSON.stringify(waiting)}; app logs in ${cluster.logDir}`);
    }
    await sleep(500);
  }
}

async function sample(
  cluster: ChaosCluster,
  db: pg.Pool,
  redis: ReturnType<typeof createRedis>,
  ledger: Ledger,
  t0: number,
): Promise<ChaosResult['timeline'][number]> {
  const stored = await db
    .query<{ n: number }>("SELECT count(*)::int AS n FROM readings WHERE device_id LIKE 'chaos-%'")
    .then((r) => r.rows[0]!.n)
    .catch(() => NaN);
  const depth = await redis.llen(queueKeys(cluster.queue).pending).catch(() => NaN);
  const spool = await scrapeMetric(cluster.hubUrl, 'telemetryhub_hub_spool_bytes').catch(() => NaN);
  return {
    t_s: seconds(Date.now() - t0),
    acknowledged: ledger.acknowledged.size,
    stored,
    queue_depth: depth,
    spool_bytes: spool,
  };
}

function chunk<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

const seconds = (ms: number) => Number((ms / 1000).toFixed(2));
