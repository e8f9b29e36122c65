/**
 * `npm run chaos`: the whole system losing nothing while things break in turn. Pushes a known ledger of events
 * (duplicates, out of order, poison) through the hub's HTTP ingest and plain LPUSH while injecting faults, then
 * prints and writes what was acknowledged, stored, lost, doubled and dead-lettered, whether the rollups equal a
 * recomputation from raw, each fault's recovery time and every process's peak memory
 * (bench/results/chaos-latest.json), and a timeline chart (bench/results/chaos-timeline.png); with --failover,
 * Redis behind a Sentinel and failovers among the faults (chaos-failover-*); with --cluster, a Redis Cluster
 * whose primary holding the queue is killed (chaos-cluster-*). Exits 1 when
 * anything was lost or doubled.
 *
 *   npm run chaos -- [--quick] [--events N] [--json]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { runChaos } from './chaos/run.js';
import { timelinePng } from './chaos/timeline-chart.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    failover: { type: 'boolean', default: false },
    cluster: { type: 'boolean', default: false },
    events: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (values.help) {
  console.log(
    'npm run chaos -- [--quick (a few thousand events, the cheap faults)] [--failover (Redis behind a Sentinel: failovers among the faults)] [--cluster (a Redis Cluster: failovers of the queue’s primary among the faults)] [--events N (quick 3000, else 100000)] [--json]',
  );
  process.exit(0);
}
const events = Number(values.events ?? (values.quick ? 3000 : 100_000));
if (!Number.isInteger(events) || events < 300) {
  console.error('--events must be a whole number ≥ 300');
  process.exit(2);
}

if (values.failover && values.cluster) {
  console.error('--failover and --cluster are two runs: choose one');
  process.exit(2);
}
const topology = values.failover ? 'sentinel' : values.cluster ? 'cluster' : 'single';
const result = await runChaos({
  quick: values.quick,
  topology,
  events,
  progress: (line) => process.stderr.write(`[chaos] ${line}\n`),
});
await mkdir(new URL('./results/', import.meta.url), { recursive: true });
// The failover run keeps files of its own: the main run's figures stay what docs/benchmarks.md shows.
const name = { single: 'chaos', sentinel: 'chaos-failover', cluster: 'chaos-cluster' }[topology];
await writeFile(new URL(`./results/${name}-latest.json`, import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
await writeFile(
  new URL(`./results/${name}-timeline.png`, import.meta.url),
  timelinePng(result.timeline, result.faults),
);
if (values.json) {
  console.log(JSON.stringify(result, null, 2));
} else {
  console.log(
    `\nChaos run: ${result.events} events, ${result.faults.length} faults${result.quick ? ' (quick)' : ''}\n`,
  );
  for (const f of result.faults) console.log(`  ${f.name}: recovered in ${f.recovery_s} s`);
  console.log(
    `\n  acknowledged ${result.acknowledged}, stored ${result.stored}, lost ${result.lost}, duplicates ${result.duplicates}` +
      ` (${result.duplicates_sent} sent twice), unexpected ${result.unexpected}`,
  );
  console.log(
    `  dead letters ${result.dlq_entries} for ${result.poison_sent} poison sent (${result.dlq_matches_poison ? 'the same reasons' : 'REASONS DIFFER'}); rollups ${result.rollups_exact ? 'exact' : 'NOT exact'}`,
  );
  console.log(
    `  peak memory (MiB): ${Object.entries(result.peak_rss_mib)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  console.log(`  written to bench/results/${name}-latest.json and ${name}-timeline.png`);
}
const ok =
  result.lost === 0 &&
  result.duplicates === 0 &&
  result.unexpected === 0 &&
  result.rollups_exact &&
  result.dlq_matches_poison;
process.exit(ok ? 0 : 1);
