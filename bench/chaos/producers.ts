import { sleep } from '@telemetryhub/service-kit';
import { queueKeys, type RedisClient } from '@telemetryhub/queue';
import type { Ledger, LedgerEvent } from './ledger.js';

/** What a producer did: batches sent, refused or failed sends it retried. */
export interface ProducerStats {
  batches: number;
  retries: number;
}

/**
 * A client of the hub's HTTP ingest as a careful producer is one: it sends a batch until it gets a 202 (a refusal,
 * a 5xx, a timeout or a closed port mean "not taken": the same batch, same event ids, again after a pause), and
 * records the batch as acknowledged only then. Every `duplicateEvery`-th batch is sent twice.
 */
export async function produceOverHttp(
  hubUrl: () => string,
  batches: readonly LedgerEvent[][],
  ledger: Ledger,
  opts: { duplicateEvery: number; pauseMs: number; stop: () => boolean },
): Promise<ProducerStats> {
  const stats: ProducerStats = { batches: 0, retries: 0 };
  for (const [i, batch] of batches.entries()) {
    const times = i % opts.duplicateEvery === 0 ? 2 : 1;
    for (let t = 0; t < times; t++) {
      if (!(await untilTaken(() => postOnce(hubUrl(), batch), stats, opts.stop))) return stats;
      ledger.acknowledge(batch);
    }
    stats.batches++;
    await sleep(opts.pauseMs);
  }
  return stats;
}

/**
 * Sends until `send` reports the batch taken, 200 ms apart, counting the retries; false if `stop` says to give up
 * first (the batch is then not acknowledged).
 */
async function untilTaken(send: () => Promise<boolean>, stats: ProducerStats, stop: () => boolean): Promise<boolean> {
  while (!(await send())) {
    if (stop()) return false;
    stats.retries++;
    await sleep(200);
  }
  return true;
}

/** One POST of `batch` to the hub's ingest: true on a 202; anything else (refusal, 5xx, timeout, closed port) false. */
export async function postOnce(url: string, batch: readonly LedgerEvent[]): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v1/telemetry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(batch),
      signal: AbortSignal.timeout(15_000),
    });
    await res.arrayBuffer();
    return res.status === 202;
  } catch {
    return false;
  }
}

/**
 * A producer in another language, as the wire protocol describes one: `LPUSH <q>:pending <task JSON>`; a task is
 * acknowledged once LPUSH returned. Errors (Redis restarting) mean "retry the same task".
 */
export async function produceOverLpush(
  redis: RedisClient,
  queue: string,
  batches: readonly LedgerEvent[][],
  ledger: Ledger,
  opts: { pauseMs: number; stop: () => boolean },
): Promise<ProducerStats> {
  const stats: ProducerStats = { batches: 0, retries: 0 };
  for (const [i, batch] of batches.entries()) {
    const task = JSON.stringify({ id: `chaos-lpush-${i}`, type: 'telemetry.analyze', payload: { readings: batch } });
    const lpush = () =>
      redis.lpush(queueKeys(queue).pending, task).then(
        () => true,
        () => false,
      );
    if (!(await untilTaken(lpush, stats, opts.stop))) return stats;
    ledger.acknowledge(batch);
    stats.batches++;
    await sleep(opts.pauseMs);
  }
  return stats;
}

/**
 * Poison, pushed as raw tasks: bytes that are not JSON, a task of a type nobody handles, and good tasks each
 * carrying one reading from far in the future among good ones (that reading alone must be dead-lettered, its
 * neighbours stored). Returns the good readings pushed beside the poison (they are acknowledged).
 */
export async function pushPoison(redis: RedisClient, queue: string, ledger: Ledger, carriers: LedgerEvent[][]) {
  const key = queueKeys(queue).pending;
  await redis.lpush(key, '{"type": "telemetry.analyze", "payload": ');
  ledger.poison.push({ what: 'a task that is not JSON', reason: 'invalid_envelope' });
  await redis.lpush(key, JSON.stringify({ id: 'chaos-unknown', type: 'chaos.unknown', payload: { readings: [] } }));
  ledger.poison.push({ what: 'a task of an unknown type', reason: 'unknown_type' });
  for (const [i, good] of carriers.entries()) {
    const future = {
      ...good[0]!,
      event_id: `chaos-future-${i}`,
      event_time: new Date(Date.now() + 86_400_000).toISOString(),
    };
    const readings = [...good.slice(0, 5), future, ...good.slice(5)];
    await redis.lpush(
      key,
      JSON.stringify({ id: `chaos-carrier-${i}`, type: 'telemetry.analyze', payload: { readings } }),
    );
    ledger.acknowledge(good);
    ledger.poison.push({
      what: `one reading from the future among ${good.length} good ones`,
      reason: 'invalid_payload',
    });
  }
}
