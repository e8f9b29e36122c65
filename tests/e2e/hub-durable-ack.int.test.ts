import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { RedisServer } from '@telemetryhub/testkit';
import { startHubProcess } from './support/hub-process.js';
import { queuedTasks } from './support/queued-tasks.js';

/**
 * 202 means durable: the hub as users run it (a real process), killed with SIGKILL right after it answered 202,
 * under load from several clients. Every event it acknowledged must be in Redis. The same kill with
 * ACK_MODE=memory (202 from the ring buffer) loses what it acknowledged: the check can fail.
 */
let redis: RedisServer;
before(async () => {
  redis = await RedisServer.start({ appendOnly: true });
});
after(async () => {
  await redis.stop();
});

const startHub = (queue: string, env: Record<string, string>) =>
  startHubProcess(redis.url, queue, { SIM_DEVICES: '0', ...env });

const event = (client: number) => ({
  event_id: randomUUID(),
  device_id: `ack-${client}`,
  metric: 'temperature',
  event_time: new Date().toISOString(),
  value: 21.5,
});

/**
 * `clients` loops POSTing batches of `batch` events until the hub dies; the hub is SIGKILLed the moment the first
 * 202 arrives after `loadMs`. Returns the event ids answered 202.
 */
async function loadThenKill(
  url: string,
  hub: { signal(s: NodeJS.Signals): void; exitPromise: Promise<unknown> },
  o: { clients: number; batch: number; loadMs: number },
): Promise<Set<string>> {
  const acknowledged = new Set<string>();
  const killAt = Date.now() + o.loadMs;
  let killed = false;
  const client = async (c: number) => {
    while (!killed) {
      const events = Array.from({ length: o.batch }, () => event(c));
      let status: number;
      try {
        const res = await fetch(`${url}/v1/telemetry`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(events),
        });
        status = res.status;
        await res.arrayBuffer();
      } catch {
        return; // the hub is gone
      }
      if (status !== 202) continue;
      for (const e of events) acknowledged.add(e.event_id);
      if (!killed && Date.now() >= killAt) {
        killed = true;
        hub.signal('SIGKILL'); // right after the 202, before anything else can run in this process
      }
    }
  };
  await Promise.all(Array.from({ length: o.clients }, (_, c) => client(c)));
  await hub.exitPromise;
  return acknowledged;
}

test('a hub killed with SIGKILL right after answering 202 under load: every acknowledged event is in Redis', async () => {
  const { hub, url } = await startHub('durable', { ACK_MODE: 'durable', BATCH_LINGER_MS: '50' });
  const acknowledged = await loadThenKill(url, hub, { clients: 8, batch: 50, loadMs: 1500 });
  assert.ok(acknowledged.size >= 1000, `load ran (${acknowledged.size} events acknowledged)`);
  const inRedis = new Set((await queuedTasks(redis.url, 'durable')).flatMap((t) => t.readings.map((r) => r.event_id)));
  const lost = [...acknowledged].filter((id) => !inRedis.has(id));
  assert.deepEqual(lost.length, 0, `${lost.length} of ${acknowledged.size} acknowledged events never reached Redis`);
});

test('with ACK_MODE=memory the same kill loses events it acknowledged (what the durable mode prevents)', async () => {
  // One client, a linger longer than the load and batches larger than it sends: nothing is published before the
  // kill lands (a full batch would be, and a kill right after one left nothing acknowledged only in memory).
  const { hub, url } = await startHub('memory', {
    ACK_MODE: 'memory',
    BATCH_LINGER_MS: '2000',
    BATCH_MAX_READINGS: '100000',
  });
  const acknowledged = await loadThenKill(url, hub, { clients: 1, batch: 10, loadMs: 300 });
  const inRedis = new Set((await queuedTasks(redis.url, 'memory')).flatMap((t) => t.readings.map((r) => r.event_id)));
  const lost = [...acknowledged].filter((id) => !inRedis.has(id));
  assert.ok(lost.length > 0, 'memory mode acknowledged readings that were only in memory');
});
