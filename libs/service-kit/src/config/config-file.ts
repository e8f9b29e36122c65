import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { formatPath } from '../errors/index.js';
import { ConfigError } from './load-config.js';

/**
 * A structured config file (YAML or JSON, by extension) named by an environment variable — the hub's
 * DEVICES_FILE, the processor's ALERT_RULES_FILE: read, parsed and validated at start-up. A ConfigError lists
 * every problem with the variable, the file and where in it (`devices[2].address: …`).
 */
export function loadConfigFile<S extends z.ZodType>(schema: S, path: string, variable: string): z.output<S> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`${variable}: cannot read ${path} (${(err as Error).message})`]);
  }
  return parseConfigFile(schema, text, path, variable);
}

/** As loadConfigFile, for text already read (`path` says which parser and names the file in errors). */
export function parseConfigFile<S extends z.ZodType>(
  schema: S,
  text: string,
  path: string,
  variable: string,
): z.output<S> {
  const json = extname(path) === '.json';
  let parsed: unknown;
  try {
    // YAML is a superset of JSON, but a .json file gets JSON's own stricter parser and error messages.
    parsed = json ? JSON.parse(text) : parseYaml(text, { prettyErrors: true });
  } catch (err) {
    throw new ConfigError([`${variable}: ${path} is not valid ${json ? 'JSON' : 'YAML'}: ${(err as Error).message}`]);
  }
  const r = schema.safeParse(parsed);
  if (!r.success) {
    throw new ConfigError(
      r.error.issues.map((i) => `${variable} ${path} ${formatPath(i.path) || '(top level)'}: ${i.message}`),
    );
  }
  return r.data;
}
