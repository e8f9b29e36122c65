import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisServer, until, type ServerProcess } from '@telemetryhub/testkit';
import { parseEventsStrict, parseTaskEnvelope, type Reading } from '@telemetryhub/schemas';
import { encodeRecord, inspectSpool } from '@telemetryhub/spool';
import { scrapeMetric as metric } from '../../scripts/local-pipeline.js';
import { startHubProcess } from './support/hub-process.js';
import { queuedTasks } from './support/queued-tasks.js';

/**
 * The hub as users run it (a real process, real Redis with AOF, simulated sensors), through Redis outages:
 * what it takes in during an outage goes to its disk spool and reaches Redis afterwards, in order; a hub killed
 * with SIGKILL during an outage replays its spool after restart, stepping over a torn last record.
 */
const OUTAGE_SECONDS = Number(process.env.HUB_OUTAGE_TEST_SECONDS ?? 30);

let redis: RedisServer;
let workDir: string;
before(async () => {
  redis = await RedisServer.start({ appendOnly: true });
  workDir = await mkdtemp(join(tmpdir(), 'hub-outage-'));
});
after(async () => {
  await redis.stop();
  await rm(workDir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function startHub(queue: string, spoolDir: string, extra: Record<string, string> = {}) {
  return startHubProcess(redis.url, queue, {
    SPOOL_DIR: spoolDir,
    SIM_DEVICES: '3',
    SIM_RATE_HZ: '20',
    SIM_METRICS: 'temperature,humidity',
    BATCH_MAX_READINGS: '100',
    ...extra,
  });
}

/** Waits on a real process: a minute at most, polled every 100 ms. */
const waitUntil = (what: string, cond: () => Promise<boolean>) => until(what, cond, 60_000, 100);

async function stopHub(hub: ServerProcess): Promise<void> {
  await hub.stop('SIGTERM', 30_000);
  assert.equal((await hub.exitPromise).code, 0, 'the hub drains and exits 0');
}

/** Every event once (a task sent twice is the only allowed repeat), and per device in the order sampled. */
function checkExactlyOnceInOrder(tasks: Array<{ id: string; readings: Reading[] }>): Reading[] {
  const taskOf = new Map<string, string>();
  const firsts: Reading[] = [];
  const seenTasks = new Set<string>();
  for (const t of tasks) {
    if (seenTasks.has(t.id)) continue; // at-least-once: a whole task resent after an ambiguous failure
    seenTasks.add(t.id);
    for (const r of t.readings) {
      assert.equal(taskOf.get(r.event_id), undefined, `event ${r.event_id} arrived in two different tasks`);
      taskOf.set(r.event_id, t.id);
      firsts.push(r);
    }
  }
  const lastSeq = new Map<string, number>();
  for (const r of firsts) {
    const key = `${r.device_id}/${r.metric}`;
    const prev = lastSeq.get(key);
    if (prev !== undefined) {
      assert.equal(r.sequence_id, prev + 1, `${key}: sample ${prev + 1} missing or out of order`);
    }
    lastSeq.set(key, r.sequence_id!);
  }
  return firsts;
}

test(`Redis down for ${OUTAGE_SECONDS} s while the sensors run: afterwards every reading is in Redis once, in order`, async () => {
  const spoolDir = join(workDir, 'outage');
  const { hub, url } = await startHub('outage', spoolDir);
  try {
    await waitUntil(
      'the first tasks are published',
      async () => (await metric(url, 'telemetryhub_hub_published_tasks_total')) > 0,
    );
    await redis.pause();
    const outageStart = Date.now();
    await waitUntil(
      'the circuit opens',
      async () => (await metric(url, 'telemetryhub_hub_publish_circuit_open')) === 1,
    );
    const ready = await fetch(`${url}/ready`);
    assert.equal(ready.status, 200, 'with a spool the hub stays ready while Redis is away');
    await sleep(Math.max(0, OUTAGE_SECONDS * 1000 - (Date.now() - outageStart)));
    const spooled = await metric(url, 'telemetryhub_hub_spool_records');
    assert.ok(spooled > 0, 'the outage went to the spool');
    await redis.resume();
    await waitUntil('the spool is replayed and the circuit closes', async () => {
      const [records, open] = await Promise.all([
        metric(url, 'telemetryhub_hub_spool_records'),
        metric(url, 'telemetryhub_hub_publish_circuit_open'),
      ]);
      return records === 0 && open === 0;
    });
  } finally {
    await stopHub(hub);
  }
  const readings = checkExactlyOnceInOrder(await queuedTasks(redis.url, 'outage'));
  const perDevice = new Set(readings.map((r) => r.device_id));
  assert.equal(perDevice.size, 3);
  // 3 devices × 2 metrics × 20 Hz × the outage: most of it went through the spool.
  assert.ok(readings.length > 3 * 2 * 20 * OUTAGE_SECONDS * 0.8, `only ${readings.length} readings arrived`);
  const spoolFiles = await readdir(join(spoolDir, 'segments'));
  assert.equal(spoolFiles.length, 1, 'replayed segments leave the disk');
});

test('a hub killed with SIGKILL during an outage replays its spool after restart, skipping a torn last record', async () => {
  const spoolDir = join(workDir, 'killed');
  const first = await startHub('killed', spoolDir);
  await waitUntil(
    'the first tasks are published',
    async () => (await metric(first.url, 'telemetryhub_hub_published_tasks_total')) > 0,
  );
  await redis.pause();
  await waitUntil(
    'the spool holds tasks',
    async () => (await metric(first.url, 'telemetryhub_hub_spool_records')) >= 5,
  );
  first.hub.signal('SIGKILL');
  await first.hub.exitPromise;

  // What the killed hub had made durable: every record of the spool past its cursor.
  const spooledIds = new Set<string>();
  await inspectSpool(spoolDir, (record) => {
    const task = parseTaskEnvelope(record.payload.toString());
    for (const r of parseEventsStrict(task.payload)) spooledIds.add(r.event_id);
  });
  const segments = (await readdir(join(spoolDir, 'segments'))).sort();
  assert.ok(spooledIds.size > 0);
  // A power cut in the middle of the next write: half a record at the end of the last segment.
  const torn = encodeRecord({ priority: 50, payload: Buffer.from('{"id":"never-finished"}') });
  await appendFile(join(spoolDir, 'segments', segments[segments.length - 1]!), torn.subarray(0, 20));

  const second = await startHub('killed', spoolDir, { SIM_DEVICES: '0' });
  try {
    assert.equal(
      await metric(second.url, 'telemetryhub_hub_spool_quarantined_records_total'),
      1,
      'the torn record is counted',
    );
    assert.ok((await metric(second.url, 'telemetryhub_hub_spool_records')) >= 5, 'the spool survived the kill');
    await redis.resume();
    await waitUntil(
      'the spool is replayed',
      async () => (await metric(second.url, 'telemetryhub_hub_spool_records')) === 0,
    );
  } finally {
    await stopHub(second.hub);
  }
  const arrived = new Set((await queuedTasks(redis.url, 'killed')).flatMap((t) => t.readings.map((r) => r.event_id)));
  const missing = [...spooledIds].filter((id) => !arrived.has(id));
  assert.deepEqual(missing, [], 'every reading the killed hub had spooled reached Redis');
});
