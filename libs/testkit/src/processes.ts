import { readdirSync, readFileSync } from 'node:fs';

/**
 * The processes whose parent is `pid`, from /proc (Linux): a server's workers — PostgreSQL forks a backend per
 * connection — for a test to signal one or a benchmark to count their CPU.
 */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces) in parentheses: the parent's pid is the 2nd.
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
