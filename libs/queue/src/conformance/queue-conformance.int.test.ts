/**
 * The queue conformance suite: the same cases against every driver (QUEUE_DRIVER), on a real Redis. Where a
 * driver cannot meet a case, the case is skipped *with the reason* (node:test prints it), never left out.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { RedisServer } from '@telemetryhub/testkit';
import { QUEUE_DRIVERS, type QueueDriverName } from '../driver.js';
import { QueueFullError } from '../errors.js';
import { createDeadLetterAdmin } from '../driver-factory.js';
import { createRedis } from '../redis-connection.js';
import { type DeadLetterReason, type FetchedTask, rawText, type RawTask } from '../task.js';
import { driverUnderTest, type DriverUnderTest } from './drivers.test-support.js';

/**
 * What the suite runs against: each driver, and the redis-list driver sharded (QUEUE_SHARDS=3). The suite's
 * tasks are one device's, so on a sharded queue they share a shard, as a device's tasks do: FIFO and the depth
 * limit hold per shard. What only several shards show (routing, urgent work overtaking across shards, one shard
 * down) is tested in ../sharding/.
 */
const VARIANTS: ReadonlyArray<{ label: string; name: QueueDriverName; shards: number }> = [
  ...QUEUE_DRIVERS.map((name) => ({ label: name, name, shards: 1 })),
  { label: 'redis-list, 3 shards', name: 'redis-list', shards: 3 },
];

/** Cases a driver cannot meet, with the reason. */
const CANNOT: Partial<Record<string, Record<string, string>>> = {
  bullmq: {
    'starvation guard':
      'BullMQ serves strictly by priority: a steady stream of urgent jobs starves normal ones (redis-list serves normal work at least every 5th fetch)',
    'drain at maxmemory':
      "BullMQ's Lua scripts carry no allow-oom flag: at maxmemory with noeviction Redis refuses its move to active, so a full queue cannot drain itself; an operator must raise maxmemory (redis-list's fetch and ack scripts are flagged allow-oom: they only move or delete)",
  },
};

let server: RedisServer;
before(async () => {
  server = await RedisServer.start({ appendOnly: true });
});
after(() => server.stop());

let n = 0;
const task = (i: number, priority = 50) =>
  JSON.stringify({
    id: `t-${i}`,
    type: 'telemetry.store',
    priority,
    created_at: '2026-01-01T00:00:00Z',
    payload: { device_id: 'conformance', i },
  });
/** An urgent task: its priority picks its lane (a raw string always goes to the normal lane). */
const urgent = (i: number) => ({ json: task(i, 90), priority: 90 });
const idOf = (t: { raw: RawTask }) => (JSON.parse(rawText(t.raw)) as { id: string }).id;
const ids = (ts: readonly FetchedTask[]) => ts.map(idOf);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Fetches until `count` tasks have come or `ms` have passed. */
async function fetchAll(c: ReturnType<DriverUnderTest['consumer']>, count: number, ms = 10_000) {
  const out: FetchedTask[] = [];
  const deadline = Date.now() + ms;
  while (out.length < count && Date.now() < deadline) out.push(...(await c.fetch(count - out.length, 200)));
  return out;
}

/** A first-attempt failure record for deadLetter(). */
function failure(reason: DeadLetterReason, message: string, taskId: string | null) {
  const now = new Date().toISOString();
  return {
    reason,
    message,
    task_id: taskId,
    task_type: taskId === null ? null : 'telemetry.store',
    attempts: 1,
    first_failed_at: now,
    last_failed_at: now,
  };
}

for (const { label, name, shards } of VARIANTS) {
  describe(`queue driver: ${label}`, () => {
    let d: DriverUnderTest;
    before(() => {
      d = driverUnderTest(name, server.url, shards);
    });
    after(() => d.close());
    const q = () => `conf-${name}-${shards}-${++n}`;
    const cannot = (c: string) => CANNOT[label]?.[c];

    test('FIFO: tasks come out in the order they went in, across fetches and batches', async () => {
      const queue = q();
      const p = d.producer(queue);
      await p.enqueue(range(1, 10).map((i) => task(i)));
      await p.enqueueBatches([range(11, 15).map((i) => task(i)), range(16, 20).map((i) => task(i))]);
      const c = d.consumer(queue);
      const got: string[] = [];
      while (got.length < 20) got.push(...ids(await c.fetch(7, 500)));
      assert.deepEqual(
        got,
        range(1, 20).map((i) => `t-${i}`),
      );
      assert.equal(await c.ack((await c.fetch(1, 50)).map((t) => t.raw)), 0, 'nothing more');
    });

    test('depths: pending (urgent among them), processing, failed, consumers and the oldest pending age', async () => {
      const queue = q();
      const stats = d.stats(queue);
      const empty = await stats.depths();
      assert.deepEqual([empty.pending, empty.processing, empty.failed, empty.oldestPendingAgeSeconds], [0, 0, 0, null]);
      const p = d.producer(queue);
      // Task 1 (created 2026-01-01T00:00:00Z) is the oldest pending; the others are a minute younger.
      const younger = (json: string) => json.replace('2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z');
      await p.enqueue([
        task(1),
        younger(task(2)),
        younger(task(3)),
        { ...urgent(4), json: younger(urgent(4).json) },
        { ...urgent(5), json: younger(urgent(5).json) },
      ]);
      const c = d.consumer(queue);
      const [first] = await fetchAll(c, 1); // an urgent one is served first
      await c.deadLetter(first!.raw, failure('invalid_payload', 'test', 't-4'));
      const held = await fetchAll(c, 1);
      const now = Date.parse('2026-01-01T00:01:40Z');
      const depths = await stats.depths(now);
      assert.deepEqual(
        [depths.pending, depths.pendingUrgent, depths.processing, depths.failed],
        [3, 0, 1, 1],
        JSON.stringify(depths),
      );
      assert.ok(depths.consumers >= 1, 'the consumer is seen');
      assert.equal(depths.oldestPendingAgeSeconds, 100, 'the oldest pending task’s age, not the newest’s (40)');
      await c.ack(held.map((t) => t.raw));
    });

    test('ack: acked tasks are gone, nothing pending or held; the bytes come back exactly as sent', async () => {
      const queue = q();
      const p = d.producer(queue);
      const raw = task(1).replace('{', '{ ');
      await p.enqueue([raw, task(2)]);
      const c = d.consumer(queue);
      const got = await fetchAll(c, 2);
      assert.equal(rawText(got[0]!.raw), raw);
      assert.deepEqual(
        got.map((t) => t.redeliveries),
        [0, 0],
      );
      assert.equal(await c.inFlight(), 2);
      assert.equal(await c.ack(got.map((t) => t.raw)), 2);
      assert.equal(await c.inFlight(), 0);
      assert.equal(await p.pendingDepth(), 0);
      assert.deepEqual(await c.fetch(5, 300), []);
    });

    test('retry: a task retried later comes back once due, not before, counted, with its first failure', async () => {
      const queue = q();
      d.housekeeping(queue);
      await d.producer(queue).enqueue([task(1)]);
      const c = d.consumer(queue);
      const [t] = await fetchAll(c, 1);
      const failedAt = Date.now();
      assert.equal(await c.retryLater(t!.raw, Date.now() + 700), true);
      const [again] = await fetchAll(c, 1);
      assert.ok(Date.now() - failedAt >= 650, 'not before its delay');
      assert.equal(rawText(again!.raw), rawText(t!.raw));
      assert.equal(again?.redeliveries, 1);
      const first = await c.firstFailure(again!.raw);
      assert.ok(first && Math.abs(first.getTime() - failedAt) < 1000, 'first failure remembered');
      assert.equal(await c.ack([again!.raw]), 1);
    });

    test('dead letter: the task is in the DLQ with its reason, and a replay delivers it again as new', async () => {
      const queue = q();
      const p = d.producer(queue);
      const raw = '{"not json';
      await p.enqueue([raw, task(2)]);
      const c = d.consumer(queue);
      // The unreadable task has no device to route by: on a sharded queue it sits in another shard than task 2.
      const got = await fetchAll(c, 2);
      const bad = got.find((t) => rawText(t.raw) === raw);
      const good = got.find((t) => rawText(t.raw) !== raw);
      await c.deadLetter(bad!.raw, failure('invalid_envelope', 'task is not valid JSON', null));
      await c.ack([good!.raw]);
      assert.equal(await c.inFlight(), 0);
      const redis = createRedis(server.url);
      try {
        const dlq = createDeadLetterAdmin(redis, queue, { shards, ...(name === 'redis-list' ? {} : { replayTo: p }) });
        const [entry] = await dlq.list();
        assert.equal(entry?.record?.reason, 'invalid_envelope');
        assert.equal(entry?.record?.raw, raw, 'the raw bytes, though not JSON');
        assert.equal(entry?.record?.consumer, c.consumerId);
        assert.equal(await dlq.replay({ reason: 'invalid_envelope' }), 1);
        assert.equal(await dlq.count(), 0);
        const [replayed] = await fetchAll(c, 1);
        assert.equal(rawText(replayed!.raw), raw);
        assert.equal(replayed?.redeliveries, 0);
        await c.ack([replayed!.raw]);
      } finally {
        redis.disconnect();
      }
    });

    test('priority: an urgent task overtakes a backlog of normal ones', async () => {
      const queue = q();
      const p = d.producer(queue);
      await p.enqueue(range(1, 10).map((i) => task(i)));
      await p.enqueue([urgent(99)]);
      const c = d.consumer(queue);
      const [first] = await fetchAll(c, 1);
      assert.equal(idOf(first!), 't-99');
    });

    test(
      'starvation guard: normal work is still served while urgent work keeps coming',
      { skip: cannot('starvation guard') },
      async () => {
        const queue = q();
        const p = d.producer(queue);
        await p.enqueue(range(1, 5).map((i) => task(i)));
        await p.enqueue(range(100, 119).map(urgent));
        const c = d.consumer(queue);
        const got: string[] = [];
        for (let k = 0; k < 10; k++) got.push(...ids(await c.fetch(1, 200)));
        assert.ok(
          got.some((id) => Number(id.slice(2)) < 100),
          `a normal task among the first 10 fetches: ${got.join(' ')}`,
        );
      },
    );

    test('depth limit: a full queue refuses publish at once with a typed error', async () => {
      const queue = q();
      const p = d.producer(queue, { maxDepth: 5 });
      await p.enqueue(range(1, 5).map((i) => task(i)));
      await assert.rejects(p.enqueue([task(6)]), QueueFullError);
      assert.deepEqual(await p.enqueueBatches([[task(7)]]), [false]);
      assert.equal(await p.pendingDepth(), 5);
    });

    test('graceful give-back: held tasks return at once, no attempt counted', async () => {
      const queue = q();
      await d.producer(queue).enqueue(range(1, 4).map((i) => task(i)));
      const a = d.consumer(queue);
      const held = await fetchAll(a, 4);
      assert.equal(held.length, 4);
      assert.equal(await a.requeueInFlight(), 4);
      assert.equal(await a.inFlight(), 0);
      const b = d.consumer(queue);
      const again = await fetchAll(b, 4, 3000);
      assert.deepEqual(ids(again).sort(), ids(held).sort());
      assert.deepEqual(
        again.map((t) => t.redeliveries),
        [0, 0, 0, 0],
      );
    });

    /** A consumer process (consumer-child.test-support.ts) that has fetched a batch of `batch`; resolves with what it holds. */
    async function childHolding(queue: string, batch: number, mode: 'hold' | 'graceful') {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          fileURLToPath(new URL('./consumer-child.test-support.ts', import.meta.url)),
          name,
          server.url,
          queue,
          '600',
          String(batch),
          mode,
          String(shards),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        const line = await new Promise<string>((resolve, reject) => {
          createInterface({ input: child.stdout! }).once('line', resolve);
          void exited.then((code) => reject(new Error(`child exited (${code}) before fetching`)));
        });
        return { child, exited, held: (JSON.parse(line) as { held: string[] }).held };
      } catch (err) {
        child.kill('SIGKILL');
        throw err;
      }
    }

    test('SIGKILL mid-batch: a consumer process killed while holding a batch loses none of it', async () => {
      const queue = q();
      d.housekeeping(queue);
      await d.producer(queue).enqueue(range(1, 8).map((i) => task(i)));
      const { child, held } = await childHolding(queue, 5, 'hold');
      try {
        assert.deepEqual(
          held,
          range(1, 5).map((i) => `t-${i}`),
        );
        child.kill('SIGKILL');
        const survivor = d.consumer(queue, { leaseMs: 600 });
        survivor.startHeartbeat();
        const got = await fetchAll(survivor, 8, 15_000);
        assert.deepEqual(
          ids(got).sort(),
          range(1, 8)
            .map((i) => `t-${i}`)
            .sort(),
          'every task, once',
        );
        for (const t of got) {
          assert.equal(t.redeliveries, held.includes(idOf(t)) ? 1 : 0, `${idOf(t)}: the killed delivery counted`);
        }
        assert.equal(await survivor.ack(got.map((t) => t.raw)), 8);
        survivor.stopHeartbeat();
      } finally {
        child.kill('SIGKILL');
      }
    });

    test('SIGTERM mid-batch: the consumer finishes and acks its batch, exits 0, and leaves the rest queued', async () => {
      const queue = q();
      d.housekeeping(queue);
      await d.producer(queue).enqueue(range(1, 8).map((i) => task(i)));
      const { child, exited, held } = await childHolding(queue, 5, 'graceful');
      try {
        assert.equal(held.length, 5);
        child.kill('SIGTERM');
        assert.equal(await exited, 0, 'acked all it held, closed its connections and exited 0');
        const depths = await d.stats(queue).depths();
        assert.deepEqual([depths.pending, depths.processing], [3, 0], JSON.stringify(depths));
        await sleep(1500); // past the child's lease: nothing of its batch may come back
        const c = d.consumer(queue);
        const rest = await fetchAll(c, 8, 1500);
        assert.deepEqual(
          ids(rest),
          range(6, 8).map((i) => `t-${i}`),
          'only the tasks it never took',
        );
        assert.deepEqual(
          rest.map((t) => t.redeliveries),
          [0, 0, 0],
        );
        await c.ack(rest.map((t) => t.raw));
      } finally {
        child.kill('SIGKILL');
      }
    });

    test('Redis restart with AOF: pending, held and dead-lettered tasks all survive; the consumer carries on', async () => {
      const queue = q();
      d.housekeeping(queue);
      await d.producer(queue).enqueue(range(1, 4).map((i) => task(i)));
      const c = d.consumer(queue);
      c.startHeartbeat();
      const [held, bad] = await fetchAll(c, 2);
      await c.deadLetter(bad!.raw, failure('poison', 'test', idOf(bad!)));
      // SIGTERM: Redis fsyncs the AOF on a clean shutdown. A crash (SIGKILL, power cut) with
      // `appendfsync everysec` can lose the last second of writes: the documented window.
      await server.restart();
      assert.equal(await c.ack([held!.raw]), 1, 'the held task is still held by its consumer, and acked once');
      const rest = await fetchAll(c, 2, 5000);
      assert.deepEqual(ids(rest), ['t-3', 't-4'], 'pending tasks are there, in order');
      assert.equal(await c.ack(rest.map((t) => t.raw)), 2);
      const depths = await d.stats(queue).depths();
      assert.deepEqual([depths.pending, depths.processing, depths.failed], [0, 0, 1], JSON.stringify(depths));
      c.stopHeartbeat();
    });

    /** Runs `body` against a driver on a Redis of its own at `maxmemory` 3 MB (noeviction), filled by the
     * producer (one task per enqueue, so the count accepted is exact) until Redis refuses. */
    async function withFullRedis(
      body: (o: { full: RedisServer; fd: DriverUnderTest; queue: string; accepted: number }) => Promise<void>,
    ) {
      const full = await RedisServer.start({ maxMemory: '3mb' });
      const fd = driverUnderTest(name, full.url, shards);
      try {
        const queue = q();
        fd.housekeeping(queue);
        const p = fd.producer(queue);
        const body1k = 'x'.repeat(1000);
        let accepted = 0;
        let refusal: unknown;
        while (refusal === undefined && accepted < 100_000) {
          await p.enqueue([task(accepted + 1).replace('"payload":{', `"payload":{"body":"${body1k}",`)]).then(
            () => accepted++,
            (err: unknown) => (refusal = err),
          );
        }
        assert.match(String(refusal), /OOM/, 'the producer is told why');
        assert.ok(accepted > 100, `${accepted} accepted before Redis was full`);
        await body({ full, fd, queue, accepted });
      } finally {
        await fd.close();
        await full.stop();
      }
    }

    /** Fetches and acks until the queue stays empty; returns the ids seen. */
    async function drain(c: ReturnType<DriverUnderTest['consumer']>) {
      const seen: string[] = [];
      for (;;) {
        const got = await c.fetch(100, 300);
        if (got.length === 0) return seen;
        assert.equal(await c.ack(got.map((t) => t.raw)), got.length);
        seen.push(...ids(got));
      }
    }

    test('Redis at maxmemory: producers are refused; once there is room again, every accepted task is delivered once', async () => {
      await withFullRedis(async ({ full, fd, queue, accepted }) => {
        const c = fd.consumer(queue);
        // Whatever the consumer can or cannot do while Redis is full, it reports an error and stays usable.
        await c.fetch(1, 100).then(
          (got) => c.requeueInFlight().then(() => got),
          (err: unknown) => assert.match(String(err), /OOM/),
        );
        const admin = createRedis(full.url);
        try {
          await admin.config('SET', 'maxmemory', '0'); // the operator's fix: more memory
        } finally {
          admin.disconnect();
        }
        const seen = await drain(c);
        assert.equal(seen.length, accepted, 'every accepted task, and nothing the refused enqueue left behind');
        assert.equal(new Set(seen).size, accepted, 'each once');
        assert.equal(await fd.producer(queue).enqueue([task(0)]), 1, 'producers resume');
      });
    });

    test(
      'Redis at maxmemory: consumers still drain the full queue, which makes room, and producers resume by themselves',
      { skip: cannot('drain at maxmemory') },
      async () => {
        await withFullRedis(async ({ fd, queue, accepted }) => {
          const seen = await drain(fd.consumer(queue));
          assert.equal(seen.length, accepted, 'every accepted task was consumed while Redis was full');
          assert.equal(await fd.producer(queue).enqueue([task(0)]), 1, 'producers resume once consumers made room');
        });
      },
    );

    test('a consumer frozen past its lease: its late ack settles nothing, the task is delivered again once', async () => {
      const queue = q();
      d.housekeeping(queue);
      await d.producer(queue).enqueue([task(1)]);
      const frozen = d.consumer(queue, { leaseMs: 400 });
      const [t] = await fetchAll(frozen, 1);
      // Frozen: no heartbeat. Another consumer (running the housekeeping) gets the task once the lease is gone.
      const other = d.consumer(queue, { leaseMs: 400 });
      other.startHeartbeat();
      const [again] = await fetchAll(other, 1, 15_000);
      assert.equal(rawText(again!.raw), rawText(t!.raw));
      assert.equal(again?.redeliveries, 1);
      assert.equal(await frozen.ack([t!.raw]), 0, 'the late ack settles nothing');
      assert.equal(await other.ack([again!.raw]), 1);
      other.stopHeartbeat();
      await sleep(1000);
      assert.deepEqual(await other.fetch(1, 200), [], 'and it does not come back');
    });
  });
}
