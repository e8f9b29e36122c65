/**
 * Hub memory through a long Redis outage: a real hub process with simulated sensors at 1,000 readings/s, Redis
 * stopped for `--minutes` (default 30), then started again. Reports the hub's resident memory before, during
 * (peak) and after the outage — the spool must hold the outage on disk, not in memory — the spool's peak size, how
 * long the replay took, and whether every reading reached Redis.
 * Usage: npm run bench:hub-outage -- [--minutes M] [--json]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RedisServer, freePort } from '@telemetryhub/testkit';
import { sleep } from '@telemetryhub/service-kit';
import { createRedis } from '@telemetryhub/queue';
import { scrapeMetric as metric, startAppProcess, waitReady } from '../scripts/local-pipeline.js';
import { processMemoryMiB } from './process-stats.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('npm run bench:hub-outage -- [--minutes M (30)] [--json]');
  process.exit(0);
}
const MINUTES = Number(values.minutes);
const progress = (s: string) => process.stderr.write(`[bench] ${s}\n`);

async function main(): Promise<void> {
  progress('starting a throwaway redis-server');
  const redis = await RedisServer.start({ appendOnly: true });
  const spoolDir = await mkdtemp(join(tmpdir(), 'bench-outage-spool-'));
  const port = await freePort();
  const hub = startAppProcess('hub', {
    ...process.env,
    REDIS_URL: redis.url,
    QUEUE_NAME: 'outage',
    HUB_PORT: String(port),
    SPOOL_DIR: spoolDir,
    SIM_DEVICES: '10',
    SIM_RATE_HZ: '20',
    SIM_METRICS: 'temperature,humidity,pressure,voltage,current', // 10 × 20 × 5 = 1,000 readings/s
    LOG_LEVEL: 'error',
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitReady(url, hub, 'hub', 60_000);
    await sleep(10_000);
    const before = await processMemoryMiB(hub.pid);
    progress(`hub RSS before the outage: ${before.rss.toFixed(0)} MiB; stopping Redis for ${MINUTES} min`);
    await redis.pause();
    const end = Date.now() + MINUTES * 60_000;
    let peakRss = 0;
    let peakSpool = 0;
    let lastReport = 0;
    while (Date.now() < end) {
      await sleep(5000);
      const { rss } = await processMemoryMiB(hub.pid);
      peakRss = Math.max(peakRss, rss);
      peakSpool = Math.max(peakSpool, await metric(url, 'telemetryhub_hub_spool_bytes'));
      if (Date.now() - lastReport >= 60_000) {
        lastReport = Date.now();
        const left = Math.max(0, Math.round((end - Date.now()) / 60_000));
        progress(`outage: RSS ${rss.toFixed(0)} MiB, spool ${(peakSpool / 2 ** 20).toFixed(1)} MiB, ${left} min left`);
      }
    }
    progress('starting Redis again; waiting for the spool to replay');
    await redis.resume();
    const replayStart = Date.now();
    for (;;) {
      const [records, open] = await Promise.all([
        metric(url, 'telemetryhub_hub_spool_records'),
        metric(url, 'telemetryhub_hub_publish_circuit_open'),
      ]);
      if (records === 0 && open === 0) break;
      await sleep(1000);
    }
    const replaySeconds = (Date.now() - replayStart) / 1000;
    const after = await processMemoryMiB(hub.pid);
    const [taken, published, dropped] = await Promise.all([
      metric(url, 'telemetryhub_hub_readings_total'),
      metric(url, 'telemetryhub_hub_published_readings_total'),
      metric(url, 'telemetryhub_hub_spool_dropped_readings_total'),
    ]);
    const client = createRedis(redis.url);
    const queued = await client.llen('outage:pending');
    client.disconnect();
    const result = {
      minutes: MINUTES,
      rssBeforeMiB: before.rss,
      rssPeakDuringOutageMiB: peakRss,
      rssAfterMiB: after.rss,
      processPeakRssMiB: after.peak,
      spoolPeakMiB: peakSpool / 2 ** 20,
      replaySeconds,
      readingsTaken: taken,
      readingsPublished: published,
      readingsDroppedBySpool: dropped,
      tasksInRedis: queued,
    };
    if (values.json) {
      console.log(JSON.stringify(result, null, 2));
      return;
    }
    console.log(`\nHub through a ${MINUTES}-minute Redis outage at 1,000 readings/s`);
    console.log(
      `  RSS before ${before.rss.toFixed(0)} MiB, peak during the outage ${peakRss.toFixed(0)} MiB, after ${after.rss.toFixed(0)} MiB (process peak ${after.peak.toFixed(0)} MiB)`,
    );
    console.log(
      `  = ${(peakRss / before.rss).toFixed(2)}× the RSS before; target: peak < 256 MiB: ${after.peak < 256 ? 'met' : 'NOT met'}`,
    );
    console.log(
      `  spool peak ${result.spoolPeakMiB.toFixed(1)} MiB on disk; replayed in ${replaySeconds.toFixed(0)} s`,
    );
    console.log(`  readings taken ${taken}, published ${published}, dropped by the spool ${dropped}`);
  } finally {
    await hub.stop('SIGTERM', 30_000);
    await redis.stop();
    await rm(spoolDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error('[bench] failed:', err);
  process.exit(1);
});
