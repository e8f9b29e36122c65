/**
 * Part 1 of the hub benchmark (bench/hub-ingest.bench.ts), in one process: the simulated driver (1000 devices × 5
 * metrics) → ring buffer → batcher → pipelined LPUSH, until every reading is in Redis; against the same task JSON
 * pushed again with pipelined LPUSH (the transport's ceiling for those bytes).
 */
import { pino } from 'pino';
import { createMetricsRegistry } from '@telemetryhub/service-kit';
import { TaskTypes } from '@telemetryhub/schemas';
import { RedisListProducer, createRedis } from '@telemetryhub/queue';
import { SimulatedDriver } from '../apps/hub/src/drivers/simulated-driver.js';
import { ReadingBuffer } from '../apps/hub/src/buffer/reading-buffer.js';
import { TaskPublisher } from '../apps/hub/src/publish/task-publisher.js';
import { countReadings, createHubMetrics } from '../apps/hub/src/metrics/hub-metrics.js';
import { FLEET_METRICS } from './e2e-references.js';

const progress = (s: string) => process.stderr.write(`[bench] ${s}\n`);

/** Part 1: every simulated reading through the hub's own buffer and publisher into Redis. */
export async function sensorsToRedis(redisUrl: string, events: number) {
  const redis = createRedis(redisUrl, { commandTimeoutMs: 60_000 });
  const metrics = createHubMetrics(createMetricsRegistry({ service: 'bench', version: '0', defaultMetrics: false }));
  const buffer = new ReadingBuffer(200_000, 'drop-oldest', metrics);
  const publisher = new TaskPublisher({
    buffer,
    producer: new RedisListProducer(redis, 'bench-sensors'),
    metrics,
    log: pino({ level: 'silent' }),
    taskType: TaskTypes.ANALYZE,
    batchMaxReadings: 500,
    lingerMs: 50,
  });
  const sim = new SimulatedDriver({
    devices: 1000,
    rateHz: 1,
    metrics: FLEET_METRICS,
    site: 's',
    region: 'r',
    seed: 1,
  });
  try {
    progress(`simulator alone: ${events} readings`);
    let t0 = performance.now();
    for (let n = 0; n < events;) n += sim.sampleAll(1, Date.now()).length;
    const simOnly = events / ((performance.now() - t0) / 1000);

    progress(`simulator → ring buffer → publisher → Redis: ${events} readings`);
    publisher.start();
    t0 = performance.now();
    let produced = 0;
    let nextReport = 0;
    while (produced < events) {
      // The drivers' pace is set by time; here they go as fast as the publisher drains, with no drop.
      if (buffer.free < 10_000) {
        await new Promise((r) => setImmediate(r));
        continue;
      }
      const readings = sim.sampleAll(1, Date.now());
      buffer.add(readings);
      countReadings(metrics, 'simulated', readings.length);
      produced += readings.length;
      if (produced >= nextReport) {
        progress(`  ${produced} readings taken in`);
        nextReport += events / 5;
      }
      if (produced % 50_000 === 0) await new Promise((r) => setImmediate(r));
    }
    const left = await publisher.stop(120_000);
    const seconds = (performance.now() - t0) / 1000;
    const published = (await metrics.publishedReadings.get()).values[0]?.value ?? 0;
    const dropped = (await metrics.bufferDropped.get()).values.reduce((n, v) => n + v.value, 0);
    if (left || dropped || published !== produced) {
      throw new Error(`lost readings: produced ${produced}, published ${published}, dropped ${dropped}, left ${left}`);
    }

    progress('reference: the same task JSON pushed again, pipelined LPUSH');
    const raws = await redis.lrange('bench-sensors:pending', 0, -1);
    await redis.del('bench-sensors:pending');
    t0 = performance.now();
    for (let i = raws.length - 1; i >= 0; i -= 16) {
      const p = redis.pipeline();
      for (let k = i; k > i - 16 && k >= 0; k--) p.lpush('bench-ref:pending', raws[k]!);
      await p.exec();
    }
    const rawSeconds = (performance.now() - t0) / 1000;
    return {
      readings: produced,
      tasks: raws.length,
      bytesPerReading: raws.reduce((n, r) => n + r.length, 0) / produced,
      simulatorOnlyPerSecond: simOnly,
      oursPerSecond: produced / seconds,
      rawLpushPerSecond: produced / rawSeconds,
    };
  } finally {
    redis.disconnect();
  }
}
