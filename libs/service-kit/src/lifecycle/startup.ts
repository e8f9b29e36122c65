import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/index.js';

/** What an app's command line asks for. */
export type StartupCommand<T> =
  | { kind: 'run'; loaded: T; checkConfig: boolean; flags: ReadonlySet<string> }
  | { kind: 'print'; text: string }
  | { kind: 'usage-error'; text: string };

/**
 * Reads an app's command line strictly — `--help` (`-h`), `--version`, `--check-config`, the app's own boolean
 * `flags` (e.g. the hub's `--once`), nothing else — and, to run or check, loads the configuration. An unknown flag is a usage error rather than ignored: a user who typed
 * `--check-config` on an app without it must not get a running app instead. A ConfigError propagates.
 */
export function parseStartup<T>(opts: {
  app: string;
  help: string;
  version: string;
  load: () => T;
  argv: string[];
  flags?: readonly string[];
}): StartupCommand<T> {
  let values: Record<string, boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: opts.argv,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
        'check-config': { type: 'boolean' },
        ...Object.fromEntries((opts.flags ?? []).map((f) => [f, { type: 'boolean' as const }])),
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    return {
      kind: 'usage-error',
      text: `${opts.app}: ${(err as Error).message}
See --help.`,
    };
  }
  if (values.help) return { kind: 'print', text: opts.help };
  if (values.version) return { kind: 'print', text: `telemetryhub ${opts.app} ${opts.version}` };
  const flags = new Set((opts.flags ?? []).filter((f) => values[f] === true));
  return { kind: 'run', loaded: opts.load(), checkConfig: values['check-config'] === true, flags };
}

/**
 * The first lines of every app's main(): prints help or the version and returns null; exits 2 on a usage error,
 * and 1 on a ConfigError after printing every problem (prefixed by the app's name) — a misconfigured app must not
 * half-start. Otherwise returns what `load` loaded, and whether only `--check-config` was asked for.
 */
export function configOrHelp<T>(opts: {
  app: string;
  help: string;
  version: string;
  load: () => T;
  argv?: string[];
  flags?: readonly string[];
}): { loaded: T; checkConfig: boolean; flags: ReadonlySet<string> } | null {
  try {
    const command = parseStartup({ ...opts, argv: opts.argv ?? process.argv.slice(2) });
    if (command.kind === 'print') {
      console.log(command.text);
      return null;
    }
    if (command.kind === 'usage-error') {
      console.error(command.text);
      process.exit(2);
    }
    return { loaded: command.loaded, checkConfig: command.checkConfig, flags: command.flags };
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`${opts.app}: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
}

/** `version` of the package.json at `url` (an app passes `new URL('../package.json', import.meta.url)`). */
export function packageVersion(url: URL): string {
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}
