import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/index.js';

/**
 * The first lines of every app's main(): print `help` and return null on --help/-h; otherwise load the config,
 * and on a ConfigError print every problem (prefixed by the app's name) and exit 1 — a misconfigured app must
 * not half-start.
 */
export function configOrHelp<T>(opts: { app: string; help: string; load: () => T; argv?: string[] }): T | null {
  const argv = opts.argv ?? process.argv;
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(opts.help);
    return null;
  }
  try {
    return opts.load();
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
