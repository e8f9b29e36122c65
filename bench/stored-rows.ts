import type pg from 'pg';
import { sleep } from '@telemetryhub/service-kit';
import { scrapeMetric } from '../scripts/local-pipeline.js';
import { rowCount } from './e2e-references.js';

/**
 * Readings the processors have stored so far: the sum of their counters of rows written to `readings`, raised after
 * each commit. A bench follows our progress through them, not through PostgreSQL: a `count(*)` of `readings` every
 * 100 ms — millions of rows in later rounds, in parallel scans — cost the server more CPU than some phases' own
 * writes, and the BullMQ references learn of their progress from their own worker for free.
 */
export function storedSoFar(processorUrls: readonly string[]): Promise<number> {
  return summed(processorUrls, 'telemetryhub_processor_db_rows_written_total', { table: 'readings' });
}

/** Folds the processors have committed so far (from memory or from orphans): how many a phase paid for. */
export function foldsSoFar(processorUrls: readonly string[]): Promise<number> {
  return summed(processorUrls, 'telemetryhub_processor_fold_runs_total', { outcome: 'done' });
}

/** Seconds the processors' fold transactions have taken so far. */
export function foldSecondsSoFar(processorUrls: readonly string[]): Promise<number> {
  return summed(processorUrls, 'telemetryhub_processor_fold_duration_seconds_sum');
}

/** A metric summed over the processors. */
async function summed(processorUrls: readonly string[], name: string, labels: Record<string, string> = {}) {
  let sum = 0;
  for (const url of processorUrls) sum += await scrapeMetric(url, name, labels);
  return sum;
}

/** Waits until the processors have stored `want` readings in all (by their counters). */
export async function waitForStored(processorUrls: readonly string[], want: number, timeoutMs = 600_000) {
  const deadline = Date.now() + timeoutMs;
  while ((await storedSoFar(processorUrls)) < want) {
    if (Date.now() > deadline) throw new Error(`fewer than ${want} readings stored after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/**
 * Waits until the processors hold nothing for their next fold (by their gauge of readings gathered for it): what
 * they stored is in the rollups, outlier state and devices too. A drain is done when it is folded, not only stored —
 * else a run shorter than the fold interval would not pay for its rollups.
 */
export async function waitForFolded(processorUrls: readonly string[], timeoutMs = 600_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const gathered = await summed(processorUrls, 'telemetryhub_processor_fold_pending_readings');
    if (gathered === 0) return;
    if (Date.now() > deadline) throw new Error(`${gathered} readings still unfolded after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** After a phase, outside its timing: the rows really are in `readings` (one count). */
export async function expectRows(db: pg.Pool, want: number): Promise<void> {
  const have = await rowCount(db, 'readings');
  if (have < want) throw new Error(`readings: ${have} rows, expected at least ${want}`);
}
