/**
 * Queue benchmark: enqueue and drain small tasks on one throwaway Redis, and report each driver's drain rate as a
 * ratio to references measured in the same run (these machines are shared and noisy: absolute numbers move,
 * ratios much less). Usage: npm run bench:queue -- [--tasks N] [--single-tasks N] [--rounds N] [--json]
 *
 * The rows compared by the targets (raw LMPOP, redis-list batched, sharded) run in paired rounds, one
 * after the other in each round; the table shows each row's median and the ratios are the medians of the
 * rounds' own ratios (the same reference swings by half between runs on these machines).
 *
 * Rows:
 *   redis-benchmark LPUSH / LPOP (pipelined)  Redis' own tool: the ceiling of one list, no reliability
 *   raw LMPOP COUNT 500                       a batched pop with no processing list: fast and unreliable
 *   redis-list batched (fetch 500 + ack)      ours: reliable fetch into a processing list, then ack
 *   redis-list single (fetch 1 + ack)         ours, one task per round trip
 *   BullMQ Worker (concurrency 100, no-op)    what teams glue together today
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Queue, Worker } from 'bullmq';
import { RedisServer, findOnPath } from '@telemetryhub/testkit';
import { type TaskEnvelope } from '@telemetryhub/schemas';
import {
  BullmqConsumer,
  BullmqProducer,
  ReliableConsumer,
  ShardedConsumer,
  ShardedProducer,
  RedisListProducer,
  createRedis,
  type QueueConsumer,
  type QueueProducer,
} from '@telemetryhub/queue';
import { median } from './median.js';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '200000' },
    'single-tasks': { type: 'string', default: '30000' },
    rounds: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(
    'npm run bench:queue -- [--tasks N (200000)] [--single-tasks N (30000)] [--rounds N (3): LMPOP, batched and sharded drains, paired; medians reported] [--json]',
  );
  process.exit(0);
}
const N = Number(values.tasks);
const SINGLE_N = Math.min(N, Number(values['single-tasks']));
const ROUNDS = Math.max(1, Number(values.rounds));
const progress = (s: string) => process.stderr.write(`[bench] ${s}\n`);

interface Row {
  name: string;
  tasks: number;
  seconds: number;
  perSecond: number;
}

const task = (i: number): TaskEnvelope => ({
  id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
  type: 'telemetry.store',
  priority: 50,
  created_at: '2026-01-01T00:00:00.000Z',
  attempts: 0,
  payload: { device_id: `bench-${i % 64}`, timestamp: 1766745000, temperature: 21.5 },
});

async function fill(producer: QueueProducer, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i += 1000) {
    await producer.enqueueBatches(
      Array.from({ length: 10 }, (_unused, b) =>
        Array.from({ length: Math.max(0, Math.min(100, n - i - b * 100)) }, (_none, k) => task(i + b * 100 + k)),
      ),
    );
  }
  return (performance.now() - t0) / 1000;
}

/** Drains `n` tasks with fetch(batch) + ack, as the processor's loop does; returns the seconds it took. */
async function drain(
  consumer: Pick<QueueConsumer, 'fetch' | 'ack'>,
  n: number,
  batch: number,
  blockMs = 0,
): Promise<number> {
  const t0 = performance.now();
  for (let got = 0; got < n;) {
    const tasks = await consumer.fetch(batch, blockMs);
    if (!tasks.length) break;
    await consumer.ack(tasks.map((t) => t.raw));
    got += tasks.length;
  }
  return (performance.now() - t0) / 1000;
}

function row(name: string, tasks: number, seconds: number): Row {
  return { name, tasks, seconds, perSecond: tasks / seconds };
}

async function main(): Promise<void> {
  progress('starting a throwaway redis-server');
  const server = await RedisServer.start({ extraArgs: ['--maxmemory', '0'] });
  const redis = createRedis(server.url, { commandTimeoutMs: 60_000 });
  const blocking = createRedis(server.url, { blocking: true });
  const rows: Row[] = [];
  try {
    const cli = findOnPath('redis-benchmark');
    if (cli) {
      progress('redis-benchmark LPUSH/LPOP, pipelined 16');
      const out = execFileSync(
        cli,
        ['-p', String(server.port), '-n', String(N), '-P', '16', '-q', '-t', 'lpush,lpop'],
        {
          encoding: 'utf8',
        },
      );
      for (const m of out.matchAll(/(LPUSH|LPOP)[^:]*:\s*([\d.]+) requests per second/g)) {
        rows.push({
          name: `redis-benchmark ${m[1]} (pipelined 16)`,
          tasks: N,
          seconds: N / Number(m[2]),
          perSecond: Number(m[2]),
        });
      }
    } else progress('redis-benchmark not found (Debian package redis-tools): row skipped');

    const runs = { lmpop: [] as number[], ours: [] as number[], sharded: [] as number[], enqueue: [] as number[] };
    const ratioRuns = { lmpop: [] as number[], sharded: [] as number[] };
    for (let round = 1; round <= ROUNDS; round++) {
      progress(`round ${round}/${ROUNDS}: raw LMPOP COUNT 500, redis-list batched, sharded ×4 — ${N} tasks each`);
      runs.enqueue.push(await fill(new RedisListProducer(redis, 'bench-raw'), N));
      const t0 = performance.now();
      for (let got = 0; got < N;) {
        const r = (await redis.call('LMPOP', '1', 'bench-raw:pending', 'RIGHT', 'COUNT', '500')) as
          [string, string[]] | null;
        if (!r) break;
        got += r[1].length;
      }
      runs.lmpop.push((performance.now() - t0) / 1000);

      await fill(new RedisListProducer(redis, 'bench-batch'), N);
      runs.ours.push(await drain(new ReliableConsumer(redis, blocking, 'bench-batch'), N, 500));

      const shardedProducer = new ShardedProducer(redis, 'bench-sharded', 4);
      await fill(shardedProducer, N);
      runs.sharded.push(await drain(new ShardedConsumer(redis, blocking, shardedProducer.shardQueues), N, 500));
      // Seconds, so a ratio of rates is the inverse ratio of times.
      ratioRuns.lmpop.push(runs.lmpop.at(-1)! / runs.ours.at(-1)!);
      ratioRuns.sharded.push(runs.ours.at(-1)! / runs.sharded.at(-1)!);
    }
    rows.push(row('redis-list enqueue (LPUSH 100/batch, 10 batches/pipeline)', N, median(runs.enqueue)));
    const lmpop = row('raw LMPOP COUNT 500 (no reliability)', N, median(runs.lmpop));
    const ours = row('redis-list batched (fetch 500 + ack)', N, median(runs.ours));
    const shardedRow = row('redis-list sharded ×4, one server (fetch 500 + ack)', N, median(runs.sharded));
    rows.push(lmpop, ours, shardedRow);

    progress(`bullmq driver: filling ${SINGLE_N}, draining with fetch(500) + ack (QUEUE_DRIVER=bullmq)`);
    const bullConnection = createRedis(server.url, { bullmq: true });
    const bullProducer = new BullmqProducer(bullConnection, 'bench-bull-driver');
    await fill(bullProducer, SINGLE_N);
    const bullDriver = new BullmqConsumer(bullConnection, 'bench-bull-driver', { blockMs: 100 });
    rows.push(row('bullmq driver batched (fetch 500 + ack)', SINGLE_N, await drain(bullDriver, SINGLE_N, 500, 100)));
    await bullDriver.close();
    await bullProducer.close();
    bullConnection.disconnect();

    progress(`redis-list single: filling ${SINGLE_N}, draining with fetch(1) + ack`);
    await fill(new RedisListProducer(redis, 'bench-single'), SINGLE_N);
    const single = new ReliableConsumer(redis, blocking, 'bench-single');
    rows.push(row('redis-list single (fetch 1 + ack)', SINGLE_N, await drain(single, SINGLE_N, 1)));

    progress(`BullMQ: adding ${SINGLE_N} jobs, draining with a Worker (concurrency 100, no-op)`);
    const connection = { host: '127.0.0.1', port: server.port, maxRetriesPerRequest: null };
    const queue = new Queue('bench', { connection });
    for (let i = 0; i < SINGLE_N; i += 1000) {
      await queue.addBulk(
        Array.from({ length: Math.min(1000, SINGLE_N - i) }, (_, k) => ({
          name: 'telemetry.store',
          data: task(i + k),
          opts: { removeOnComplete: true },
        })),
      );
    }
    let done = 0;
    const t0 = performance.now();
    const finished = new Promise<void>((resolve) => {
      const worker = new Worker('bench', async () => undefined, { connection, concurrency: 100, autorun: true });
      worker.on('completed', () => {
        if (++done === SINGLE_N) void worker.close().then(resolve);
      });
    });
    await finished;
    const bull = row('BullMQ Worker (concurrency 100, no-op)', SINGLE_N, (performance.now() - t0) / 1000);
    rows.push(bull);
    await queue.close();

    const ratios = {
      batched_vs_bullmq: ours.perSecond / bull.perSecond,
      batched_vs_raw_lmpop: median(ratioRuns.lmpop),
      sharded_vs_batched: median(ratioRuns.sharded),
    };
    const perRound = (xs: number[]) => xs.map((x) => `${(x * 100).toFixed(0)}%`).join(', ');
    if (values.json) {
      console.log(JSON.stringify({ tasks: N, rounds: ROUNDS, rows, ratios, ratio_rounds: ratioRuns }, null, 2));
    } else {
      console.log(
        `\nQueue drain, ${N} tasks (single-task rows: ${SINGLE_N}), one redis-server on loopback; LMPOP, batched and sharded: medians of ${ROUNDS} paired rounds\n`,
      );
      console.log(`${'driver'.padEnd(58)} ${'tasks/s'.padStart(10)}  ${'vs BullMQ'.padStart(9)}`);
      for (const r of rows) {
        console.log(
          `${r.name.padEnd(58)} ${Math.round(r.perSecond).toString().padStart(10)}  ${(r.perSecond / bull.perSecond).toFixed(1).padStart(8)}×`,
        );
      }
      const mark = (ok: boolean) => (ok ? 'met' : 'NOT met');
      console.log(
        `\nredis-list batched = ${ratios.batched_vs_bullmq.toFixed(1)}× BullMQ (target ≥ 10×: ${mark(ratios.batched_vs_bullmq >= 10)})`,
      );
      console.log(
        `redis-list batched = ${(ratios.batched_vs_raw_lmpop * 100).toFixed(0)}% of raw LMPOP, median of rounds ${perRound(ratioRuns.lmpop)} (target ≥ 50%: ${mark(ratios.batched_vs_raw_lmpop >= 0.5)})`,
      );
      console.log(
        `sharding's own cost on one server: sharded ×4 = ${(ratios.sharded_vs_batched * 100).toFixed(0)}% of one queue, median of rounds ${perRound(ratioRuns.sharded)} (a cluster spreads the shards over primaries; not measured here)`,
      );
    }
  } finally {
    redis.disconnect();
    blocking.disconnect();
    await server.stop();
  }
}

main().catch((err) => {
  console.error('[bench] failed:', err);
  process.exit(1);
});
