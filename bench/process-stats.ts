import { readFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { childPids } from '@telemetryhub/testkit';

/** A process's resident memory now and its peak so far (MiB), from /proc (Linux); NaN where unknown. */
export async function processMemoryMiB(pid: number | undefined): Promise<{ rss: number; peak: number }> {
  const status = pid ? await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '') : '';
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on every Linux this runs on). */
const USER_HZ = 100;

/**
 * CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (Linux); NaN where unknown. On a
 * shared machine a process's CPU time per unit of work is steadier than its throughput.
 */
export async function processCpuSeconds(pid: number | undefined): Promise<number> {
  const stat = pid ? await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '') : '';
  // Fields after the command name (which may hold spaces) in parentheses: state is the 3rd field, utime the 14th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11] ?? NaN) + Number(fields[12] ?? NaN)) / USER_HZ;
}

/**
 * CPU seconds a server and its worker processes have used so far (PostgreSQL: the postmaster, every backend and
 * background process, and the children that already exited), from /proc (Linux); NaN where unknown.
 */
export async function processTreeCpuSeconds(pid: number | undefined): Promise<number> {
  if (!pid) return NaN;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  if (!stat) return NaN;
  const own = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime, stime, then cutime, cstime: the children it has waited for (backends that exited).
  let seconds = (Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14])) / USER_HZ;
  for (const child of childPids(pid)) seconds += (await processCpuSeconds(child)) || 0;
  return seconds;
}

/** The machine a result was measured on, as every benchmark's JSON records it (results are only comparable on one). */
export interface Machine {
  cpus: number;
  cpu_model: string;
  memory_gib: number;
  node: string;
  date: string;
}

export function machine(): Machine {
  return {
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model ?? 'unknown',
    memory_gib: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    date: new Date().toISOString(),
  };
}
