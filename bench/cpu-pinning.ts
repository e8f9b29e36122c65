import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { childPids } from '@telemetryhub/testkit';
import { processCpuSeconds } from './process-stats.js';

/* Where the scaling run's processes may run, and the CPU each part of it used. */

export const CORES = cpus().length;

/** A process and its children (PostgreSQL forks a backend per connection). */
export function withChildren(pid: number | undefined): number[] {
  return pid ? [pid, ...childPids(pid)] : [];
}

async function cpuOf(pids: readonly number[]): Promise<number> {
  let sum = 0;
  for (const pid of pids) sum += (await processCpuSeconds(pid)) || 0;
  return sum;
}

/**
 * CPU seconds of named parts (each a list of processes) from now: `since` gives each part's use since the meter
 * started, asked of the processes as they are then (PostgreSQL's backends come and go).
 */
export async function cpuMeter<K extends string>(parts: Record<K, readonly number[]>) {
  const start = {} as Record<K, number>;
  for (const k of Object.keys(parts) as K[]) start[k] = await cpuOf(parts[k]);
  return {
    async since(now: Record<K, readonly number[]>): Promise<Record<K, number>> {
      const used = {} as Record<K, number>;
      for (const k of Object.keys(now) as K[]) used[k] = (await cpuOf(now[k])) - start[k];
      return used;
    },
  };
}

/**
 * A part-by-part CPU reading as figures: µs per event (of `events`) and cores kept busy (over `wallSeconds`), each
 * to one decimal place and two.
 */
export function cpuFigures<K extends string>(cpu: Record<K, number>, events: number, wallSeconds: number) {
  const perEvent = {} as Record<K, number>;
  const coresBusy = {} as Record<K, number>;
  for (const k of Object.keys(cpu) as K[]) {
    perEvent[k] = Number(((cpu[k] / Math.max(1, events)) * 1e6).toFixed(1));
    coresBusy[k] = Number((cpu[k] / wallSeconds).toFixed(2));
  }
  return { cpu_us_per_event: perEvent, cores_busy: coresBusy };
}

/** Pins every thread of each process (and, for PostgreSQL, the backends it forks later) to `cpuList`. */
export function pin(pids: readonly number[], cpuList: string): void {
  for (const pid of pids) execFileSync('taskset', ['-a', '-cp', cpuList, String(pid)], { stdio: 'ignore' });
}
