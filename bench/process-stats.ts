import { readFile } from 'node:fs/promises';

/** A process's resident memory now and its peak so far (MiB), from /proc (Linux); NaN where unknown. */
export async function processMemoryMiB(pid: number | undefined): Promise<{ rss: number; peak: number }> {
  const status = pid ? await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '') : '';
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}
