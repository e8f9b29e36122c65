/**
 * Processor latency under a steady load: readings stamped with the time they are due are enqueued at a fixed
 * rate (as the hub publishes: tasks of up to --per-task readings, every --linger ms), and each reading's time from
 * its event time to its commit in PostgreSQL (when the query API can see it) is recorded. Open loop: a reading's
 * event time is when it was due, so a processor that falls behind is charged for the wait (no coordinated
 * omission). Reports p50/p99/max, the rate kept up, and the process's memory over the run (flat = no leak).
 * PostgreSQL keeps its default durability unless --fast-postgres.
 * Usage: npm run bench:processor-latency -- [--rate N] [--seconds S] [--json]
 */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { sleep } from '@telemetryhub/service-kit';
import { toColumns, type Reading } from '@telemetryhub/schemas';
import { RedisListProducer, queueDepths } from '@telemetryhub/queue';
import { DEFAULT_CONSUMER_CONCURRENCY } from '../apps/task-processor/src/config.js';
import { DEFAULT_SERIES, benchReading, createBenchProcessor, startBenchStack } from './processor-harness.js';
import { defaultDecodeThreads } from '../apps/task-processor/src/decode/decode-pool.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '20000' },
    series: { type: 'string', default: String(DEFAULT_SERIES) },
    seconds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '3' },
    'per-task': { type: 'string', default: '500' },
    linger: { type: 'string', default: '50' },
    loops: { type: 'string', default: String(DEFAULT_CONSUMER_CONCURRENCY) },
    threads: { type: 'string', default: String(defaultDecodeThreads()) },
    fetch: { type: 'string', default: '100' }, // FETCH_BATCH_SIZE's default
    'fast-postgres': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(
    `npm run bench:processor-latency -- [--rate events/s (20000)] [--series N (5000: devices × 5 metrics)] [--seconds S (30)] [--warmup S (3), not counted] [--per-task N (500)] [--linger ms (50), as the hub’s BATCH_LINGER_MS] [--loops N (as CONSUMER_CONCURRENCY: ${DEFAULT_CONSUMER_CONCURRENCY})] [--threads N (as WORKER_THREADS: 0 up to 2 cores, else one per core)] [--fetch N tasks per fetch (100, as FETCH_BATCH_SIZE)] [--fast-postgres (fsync, synchronous commit and full-page writes off; default: durable, as users run it)] [--json]`,
  );
  process.exit(0);
}
const RATE = Number(values.rate);
const SERIES = Number(values.series);
const SECONDS = Number(values.seconds);
const WARMUP_MS = Number(values.warmup) * 1000;
const PER_TASK = Number(values['per-task']);
const LINGER_MS = Number(values.linger);
const progress = (s: string) => process.stderr.write(`[bench] ${s}\n`);
const log = pino({ level: 'error' });

async function main(): Promise<void> {
  progress('starting throwaway Redis and PostgreSQL');
  const env = await startBenchStack(log, { fastPostgres: values['fast-postgres'] });
  const { redis } = env;
  try {
    const total = Math.round(RATE * SECONDS);
    const latenciesMs = new Float64Array(total);
    let recorded = 0;
    let start = 0;
    const { consumers } = await createBenchProcessor(env, {
      queue: 'bench',
      loops: Number(values.loops),
      threads: Number(values.threads),
      fetch: Number(values.fetch),
      log,
      // Committed = visible to the query API: time each reading from its event time to the handler's return.
      wrap: (handler) => ({
        name: handler.name,
        async handle(tasks) {
          await handler.handle(tasks);
          const now = Date.now();
          for (const t of tasks) {
            for (const r of t.readings) {
              const eventMs = Date.parse(r.event_time);
              if (eventMs - start >= WARMUP_MS) latenciesMs[recorded++] = now - eventMs;
            }
          }
        },
      }),
    });
    consumers.start();

    progress(`offering ${RATE} events/s for ${SECONDS} s (first ${WARMUP_MS / 1000} s not counted)`);
    const producer = new RedisListProducer(redis, 'bench');
    const memory: number[] = [];
    start = Date.now();
    let sent = 0;
    let taskNo = 0;
    let lastReport = start;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((Date.now() - start) / 1000) * RATE));
      const tasks = [];
      while (sent < due) {
        const n = Math.min(PER_TASK, due - sent);
        const readings: Reading[] = [];
        for (let i = 0; i < n; i++, sent++) readings.push(benchReading(sent, start + (sent / RATE) * 1000, SERIES));
        tasks.push({
          id: `task-${taskNo++}`,
          type: 'telemetry.analyze',
          priority: 50,
          created_at: new Date().toISOString(),
          attempts: 0,
          payload: toColumns(readings),
        });
      }
      if (tasks.length) await producer.enqueue(tasks);
      if (Date.now() - lastReport >= 1000) {
        lastReport = Date.now();
        memory.push(process.memoryUsage().rss / 2 ** 20);
        const d = await queueDepths(redis, 'bench');
        progress(`${Math.round((lastReport - start) / 1000)} s: ${sent} sent, ${d.pending} tasks waiting`);
      }
      await sleep(LINGER_MS);
    }
    const sentSeconds = (Date.now() - start) / 1000;
    for (;;) {
      const d = await queueDepths(redis, 'bench');
      if (d.pending === 0 && d.processing === 0) break;
      await sleep(20);
    }
    const drainedSeconds = (Date.now() - start) / 1000;
    await consumers.stop();

    const counted = latenciesMs.subarray(0, recorded).sort();
    const at = (q: number) => counted[Math.min(counted.length - 1, Math.floor(q * counted.length))] ?? NaN;
    const half = memory.slice(Math.floor(memory.length / 2));
    const result = {
      offered_events_per_second: RATE,
      processed_events_per_second: total / drainedSeconds,
      sent_seconds: sentSeconds,
      drained_seconds: drainedSeconds,
      readings_counted: recorded,
      p50_ms: at(0.5),
      p99_ms: at(0.99),
      max_ms: counted.at(-1) ?? NaN,
      rss_mib_first: memory[0] ?? NaN,
      rss_mib_second_half_min: Math.min(...half),
      rss_mib_second_half_max: Math.max(...half),
    };
    if (values.json) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(
        `\nProcessor latency, ${RATE} events/s offered for ${SECONDS} s in tasks of ≤ ${PER_TASK} every ${LINGER_MS} ms (telemetry.analyze)\n`,
      );
      console.log(`kept up: ${Math.round(result.processed_events_per_second)} events/s processed`);
      console.log(
        `event time → committed (visible): p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms, max ${result.max_ms} ms (${recorded} readings)`,
      );
      console.log(
        `bench process RSS: ${result.rss_mib_first.toFixed(0)} MiB after 1 s; second half ${result.rss_mib_second_half_min.toFixed(0)}–${result.rss_mib_second_half_max.toFixed(0)} MiB`,
      );
      console.log(`\np99 target < 1000 ms: ${result.p99_ms < 1000 ? 'met' : 'NOT met'}`);
    }
  } finally {
    await env.close();
  }
}

main().catch((err) => {
  console.error('[bench] failed:', err);
  process.exit(1);
});
