/** Just enough of a Dockerfile parser for tests: stages, instructions (continuations joined), comments dropped. */
export interface Instruction {
  op: string;
  args: string;
}
export interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): Stage[] {
  const joined = text.replace(/\\\n/g, ' ');
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [, op = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = op.toUpperCase();
    if (upper === 'ARG' && stages.length === 0) {
      const [k, v = ''] = rest.split('=');
      args.set(k!, v);
    } else if (upper === 'FROM') {
      const [image = '', , name] = rest.split(/\s+/);
      const from = image.replace(/\$\{(\w+)\}/g, (_m, k: string) => args.get(k) ?? '');
      stages.push({ from, ...(name ? { name } : {}), instructions: [] });
    } else {
      stages.at(-1)?.instructions.push({ op: upper, args: rest.replace(/\s+/g, ' ') });
    }
  }
  return stages;
}

/** The command line of a HEALTHCHECK, as argv (shell form, quotes removed, ${VAR} expanded). */
export function healthcheckArgv(healthcheck: string, env: Record<string, string>): string[] {
  const cmd = healthcheck
    .slice(healthcheck.indexOf('CMD ') + 4)
    .replace(/\$\{(\w+)\}/g, (_m, k: string) => env[k] ?? '');
  return [...cmd.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}
