import type { ChaosTopology } from './cluster.js';
import type { ChaosResult } from './run.js';

/** What each topology's part of a combined run holds. */
export interface TopologyPart {
  topology: ChaosTopology;
  events: number;
  faults: number;
  acknowledged: number;
  stored: number;
  lost: number;
  duplicates: number;
}

export type CombinedResult = ChaosResult & { parts: TopologyPart[] };

const LABEL: Record<ChaosTopology, string> = { single: '', sentinel: 'Sentinel: ', cluster: 'Cluster: ' };

/**
 * The full run's result from its parts — one Redis, then behind a Sentinel, then a Cluster, each its own stack and
 * ledger: counts add up, every check must hold in every part, faults keep their order (named by their part), each
 * process's peak is the largest seen; the timeline is the first part's (each part keeps its own chart).
 */
export function combine(parts: ReadonlyArray<{ topology: ChaosTopology; result: ChaosResult }>): CombinedResult {
  const [first] = parts;
  if (!first) throw new Error('nothing to combine');
  const sum = (
    k:
      | 'events'
      | 'acknowledged'
      | 'stored'
      | 'lost'
      | 'duplicates'
      | 'unexpected'
      | 'dlq_entries'
      | 'poison_sent'
      | 'duplicates_sent',
  ) => parts.reduce((n, p) => n + p.result[k], 0);
  const faults = parts.flatMap((p) => p.result.faults.map((f) => ({ ...f, name: `${LABEL[p.topology]}${f.name}` })));
  const peaks: Record<string, number> = {};
  for (const p of parts) {
    for (const [k, v] of Object.entries(p.result.peak_rss_mib)) peaks[k] = Math.max(peaks[k] ?? 0, v);
  }
  return {
    ...first.result,
    events: sum('events'),
    duplicates_sent: sum('duplicates_sent'),
    acknowledged: sum('acknowledged'),
    stored: sum('stored'),
    lost: sum('lost'),
    duplicates: sum('duplicates'),
    unexpected: sum('unexpected'),
    dlq_entries: sum('dlq_entries'),
    poison_sent: sum('poison_sent'),
    dlq_matches_poison: parts.every((p) => p.result.dlq_matches_poison),
    rollups_exact: parts.every((p) => p.result.rollups_exact),
    lost_sample: parts.flatMap((p) => p.result.lost_sample).slice(0, 10),
    faults,
    recovery_s: Object.fromEntries(faults.map((f) => [f.name, f.recovery_s])),
    peak_rss_mib: peaks,
    parts: parts.map(({ topology, result: r }) => ({
      topology,
      events: r.events,
      faults: r.faults.length,
      acknowledged: r.acknowledged,
      stored: r.stored,
      lost: r.lost,
      duplicates: r.duplicates,
    })),
  };
}
