import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { freePort, startStack, type LocalStack, type ServerProcess } from '@telemetryhub/testkit';
import {
  DeadLetterQueue,
  createQueueProducer,
  createQueueStats,
  createRedis,
  queueDepths,
  type QueueDriverName,
  type RedisClient,
} from '@telemetryhub/queue';
import { scrapeMetric as metric, startAppProcess, waitReady } from '../../scripts/local-pipeline.js';

// Real task-processor processes against real Redis and PostgreSQL: one is killed with SIGKILL, another frozen
// with SIGSTOP past its lease, each while it holds a batch; nothing may be lost or stored twice.

const TASKS = 3000;
let stack: LocalStack;
let redis: RedisClient;
let db: pg.Client;

before(async () => {
  stack = await startStack();
  redis = createRedis(stack.redis.url);
  db = new pg.Client({ connectionString: stack.postgres.url });
});
// Every processor a test started: stopped here too, so a failed assertion cannot leave one running (the file would
// then wait for it until its timeout, hiding which assertion failed behind a timeout).
const started: ServerProcess[] = [];
after(async () => {
  await Promise.all(started.map((p) => p.stop('SIGKILL', 5000).catch(() => {})));
  redis.disconnect();
  await db.end().catch(() => {});
  await stack.stop();
});

async function processor(
  queue: string,
  driver: QueueDriverName = 'redis-list',
): Promise<{ proc: ServerProcess; url: string }> {
  const port = await freePort();
  const proc = startAppProcess('task-processor', {
    ...process.env,
    REDIS_URL: stack.redis.url,
    DATABASE_URL: stack.postgres.url,
    QUEUE_NAME: queue,
    QUEUE_DRIVER: driver,
    PROCESSOR_PORT: String(port),
    CONSUMER_LEASE_MS: '1000',
    FETCH_BATCH_SIZE: '50',
    CONSUMER_CONCURRENCY: '1', // one consumer per process, so "the" consumer of a process is well defined
    LOG_LEVEL: 'warn',
  });
  started.push(proc);
  const url = `http://127.0.0.1:${port}`;
  await waitReady(url, proc, 'task-processor', 60_000);
  if (!db.database || (db as unknown as { _connected?: boolean })._connected !== true)
    await db.connect().catch(() => {});
  return { proc, url };
}

async function enqueue(queue: string, device: string, driver: QueueDriverName = 'redis-list'): Promise<void> {
  // Recent event times: older ones (beyond the raw retention) would be set aside as expired instead.
  const start = Math.floor(Date.now() / 1000) - 2 * TASKS;
  const tasks = Array.from({ length: TASKS }, (_, i) =>
    JSON.stringify({
      type: 'telemetry.store',
      payload: { device_id: device, timestamp: start + i, temperature: i },
    }),
  );
  const producer = createQueueProducer(driver, redis, queue);
  for (let i = 0; i < tasks.length; i += 500) await producer.enqueue(tasks.slice(i, i + 500));
  await producer.close?.();
}

async function stored(device: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM readings WHERE device_id = $1', [device]);
  return Number(rows[0]!.n);
}

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Freezes the process at a moment when it holds tasks; returns how many it holds. */
async function freezeWhileHolding(proc: ServerProcess, queue: string, driver: QueueDriverName = 'redis-list') {
  for (let tries = 0; tries < 500; tries++) {
    proc.signal('SIGSTOP');
    const [id] = driver === 'redis-list' ? await redis.zrange(`${queue}:consumers`, 0, 0) : [];
    const held =
      driver === 'bullmq'
        ? await redis.llen(`bull:${queue}:active`)
        : id
          ? await redis.llen(`${queue}:processing:${id}`)
          : 0;
    if (held > 0) return held;
    proc.signal('SIGCONT');
    await new Promise((r) => setTimeout(r, 3));
  }
  throw new Error('never caught the consumer holding tasks');
}

test('a processor killed with SIGKILL in the middle of a batch loses nothing: its tasks are reaped and stored once', async () => {
  const queue = 'kill';
  await enqueue(queue, 'KILL-1');
  const a = await processor(queue);
  await waitFor('first rows', async () => (await stored('KILL-1')) >= 200);
  const held = await freezeWhileHolding(a.proc, queue);
  a.proc.signal('SIGKILL');
  await a.proc.exitPromise;

  const b = await processor(queue);
  await waitFor('every reading', async () => (await stored('KILL-1')) === TASKS);
  await waitFor('queue drained', async () => {
    const d = await queueDepths(redis, queue);
    return d.pending === 0 && d.processing === 0;
  });
  assert.equal(await stored('KILL-1'), TASKS, 'each reading exactly once');
  assert.equal(
    await metric(b.url, 'telemetryhub_processor_queue_reaped_tasks_total'),
    held,
    'the dead consumer’s batch was reaped',
  );
  assert.equal(await new DeadLetterQueue(redis, queue).count(), 0);
  await b.proc.stop('SIGTERM', 20_000);
  assert.equal((await b.proc.exitPromise).code, 0, 'graceful shutdown exits 0');
});

test('a processor frozen past its lease and then resumed neither loses nor double-stores anything', async () => {
  const queue = 'freeze';
  await enqueue(queue, 'FRZ-1');
  const a = await processor(queue);
  await waitFor('first rows', async () => (await stored('FRZ-1')) >= 200);
  const held = await freezeWhileHolding(a.proc, queue);

  const b = await processor(queue);
  // Only once its lease has expired and its batch was reaped (its INSERT may already have been committed by
  // the server before the freeze: the rows being there proves nothing) is the frozen processor resumed.
  await waitFor(
    'the frozen batch to be reaped',
    async () => (await metric(b.url, 'telemetryhub_processor_queue_reaped_tasks_total')) >= held,
  );
  await waitFor('every reading', async () => (await stored('FRZ-1')) === TASKS);
  a.proc.signal('SIGCONT'); // its late insert dedups, its late ack removes nothing
  await waitFor('queue drained', async () => {
    const d = await queueDepths(redis, queue);
    return d.pending === 0 && d.processing === 0 && d.delayed === 0;
  });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await stored('FRZ-1'), TASKS, 'each reading exactly once');
  assert.equal(await metric(b.url, 'telemetryhub_processor_queue_reaped_tasks_total'), held);
  assert.equal(await new DeadLetterQueue(redis, queue).count(), 0);
  assert.equal((await fetch(`${a.url}/health`)).status, 200, 'the resumed processor carries on');
  await Promise.all([a.proc.stop('SIGTERM', 20_000), b.proc.stop('SIGTERM', 20_000)]);
  assert.deepEqual([(await a.proc.exitPromise).code, (await b.proc.exitPromise).code], [0, 0]);
});

test('SIGTERM in the middle of a batch: the processor finishes and acks it, exits 0, and leaves the rest queued', async () => {
  const queue = 'term';
  await enqueue(queue, 'TERM-1');
  const a = await processor(queue);
  await waitFor('first rows', async () => (await stored('TERM-1')) >= 200);
  const held = await freezeWhileHolding(a.proc, queue);
  const [consumerId] = await redis.zrange(`${queue}:consumers`, 0, 0);
  a.proc.signal('SIGTERM'); // delivered when it resumes, with the batch in hand
  a.proc.signal('SIGCONT');
  const exit = await a.proc.exitPromise;
  assert.equal(exit.code, 0, 'drained and exited 0');
  assert.ok(held > 0);
  assert.equal(await redis.llen(`${queue}:processing:${consumerId}`), 0, 'nothing left unsettled');
  assert.equal(await redis.zscore(`${queue}:consumers`, consumerId!), null, 'its lease is dropped');
  const afterStop = await stored('TERM-1');
  const d = await queueDepths(redis, queue);
  assert.equal(afterStop + d.pending, TASKS, 'every task is stored or still queued: none lost, none half-done');

  const b = await processor(queue);
  await waitFor('every reading', async () => (await stored('TERM-1')) === TASKS);
  await b.proc.stop('SIGTERM', 20_000);
  assert.equal((await b.proc.exitPromise).code, 0);
});

test('bullmq: SIGTERM in the middle of a batch — the processor acks what it holds, exits 0, the rest stays queued', async () => {
  const queue = 'bterm';
  await enqueue(queue, 'BTERM-1', 'bullmq');
  const a = await processor(queue, 'bullmq');
  await waitFor('first rows', async () => (await stored('BTERM-1')) >= 200);
  const held = await freezeWhileHolding(a.proc, queue, 'bullmq');
  a.proc.signal('SIGTERM'); // delivered when it resumes, with the batch in hand
  a.proc.signal('SIGCONT');
  assert.equal((await a.proc.exitPromise).code, 0, 'drained and exited 0');
  assert.ok(held > 0);
  const stats = createQueueStats('bullmq', redis, queue);
  const d = await stats.depths();
  await stats.close();
  assert.equal(d.processing, 0, 'no active job left behind');
  assert.equal(d.failed, 0);
  const afterStop = await stored('BTERM-1');
  assert.equal(afterStop + d.pending, TASKS, 'every task is stored or still queued: none lost, none half-done');

  const b = await processor(queue, 'bullmq');
  await waitFor('every reading', async () => (await stored('BTERM-1')) === TASKS);
  await b.proc.stop('SIGTERM', 20_000);
  assert.equal((await b.proc.exitPromise).code, 0);
});
