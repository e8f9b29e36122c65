/**
 * `npm run chaos`: the whole system losing nothing while things break in turn. Pushes a known ledger of events
 * (duplicates, out of order, poison) through the hub's HTTP ingest and plain LPUSH while injecting faults, then
 * prints and writes what was acknowledged, stored, lost, doubled and dead-lettered, whether the rollups equal a
 * recomputation from raw, each fault's recovery time and every process's peak memory
 * (bench/results/chaos-latest.json), and a timeline chart (bench/results/chaos-timeline.png). The full run has three
 * parts, each its own stack: every fault on one Redis, then Redis behind a Sentinel with failovers among the faults
 * (chaos-failover-*), then a Redis Cluster whose primary holding the queue is killed (chaos-cluster-*); --failover
 * and --cluster run one part alone. Exits 1 when anything was lost or doubled.
 *
 *   npm run chaos -- [--quick | --failover | --cluster] [--events N] [--json]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { runChaos, type ChaosResult } from './chaos/run.js';
import { combine, type CombinedResult } from './chaos/combine.js';
import type { ChaosTopology } from './chaos/cluster.js';
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
    'npm run chaos -- [--quick (a few thousand events, the cheap faults, one Redis)] [--failover (only the part with Redis behind a Sentinel)] [--cluster (only the part on a Redis Cluster)] [--events N per part (quick 3000, else 100000)] [--json]\n' +
      'Without --quick: every fault on one Redis, then failovers behind a Sentinel, then on a Redis Cluster.',
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
const progress = (line: string) => process.stderr.write(`[chaos] ${line}\n`);
/** Each part: its file names and the run. */
const FILES: Record<ChaosTopology, string> = { single: 'chaos', sentinel: 'chaos-failover', cluster: 'chaos-cluster' };
async function part(topology: ChaosTopology): Promise<ChaosResult> {
  const r = await runChaos({ quick: values.quick, topology, events, progress });
  const name = FILES[topology];
  await mkdir(new URL('./results/', import.meta.url), { recursive: true });
  await writeFile(new URL(`./results/${name}-latest.json`, import.meta.url), `${JSON.stringify(r, null, 2)}\n`);
  await writeFile(new URL(`./results/${name}-timeline.png`, import.meta.url), timelinePng(r.timeline, r.faults));
  return r;
}
// The full run goes through every topology in turn (the failovers need Redis behind a Sentinel or in a Cluster,
// the link faults one Redis behind the fault proxy); --quick, --failover and --cluster run one.
const topologies: ChaosTopology[] = values.failover
  ? ['sentinel']
  : values.cluster
    ? ['cluster']
    : values.quick
      ? ['single']
      : ['single', 'sentinel', 'cluster'];
const parts: Array<{ topology: ChaosTopology; result: ChaosResult }> = [];
for (const topology of topologies) {
  if (topologies.length > 1) progress(`part ${parts.length + 1}/${topologies.length}: ${topology}`);
  parts.push({ topology, result: await part(topology) });
}
const result = parts.length === 1 ? parts[0]!.result : combine(parts);
if (parts.length > 1) {
  // The full run's file holds the whole: every part's faults and totals (each part also wrote its own).
  await writeFile(new URL('./results/chaos-latest.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
}
const name = parts.length === 1 ? FILES[parts[0]!.topology] : 'chaos';
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
  if ('parts' in result) {
    for (const p of (result as CombinedResult).parts) {
      console.log(
        `  ${p.topology}: ${p.faults} faults, ${p.acknowledged} acknowledged, ${p.stored} stored, lost ${p.lost}, duplicates ${p.duplicates}`,
      );
    }
  }
  console.log(`  written to bench/results/${name}-latest.json and ${name}-timeline.png`);
}
const ok =
  result.lost === 0 &&
  result.duplicates === 0 &&
  result.unexpected === 0 &&
  result.rollups_exact &&
  result.dlq_matches_poison;
process.exit(ok ? 0 : 1);
