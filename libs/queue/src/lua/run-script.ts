import { createHash } from 'node:crypto';
import type { RedisClient } from '../redis-connection.js';

const shas = new Map<string, string>();
const shaOf = (script: string): string => {
  let sha = shas.get(script);
  if (!sha) {
    sha = createHash('sha1').update(script).digest('hex');
    shas.set(script, sha);
  }
  return sha;
};

/**
 * Runs a Lua script by its SHA (EVALSHA: the server neither receives nor re-hashes the text), loading it with
 * EVAL when the server does not know it yet (first use, or after a restart flushed the script cache).
 */
export async function runScript(
  redis: RedisClient,
  script: string,
  numKeys: number,
  ...args: Array<string | number>
): Promise<unknown> {
  try {
    return await redis.evalsha(shaOf(script), numKeys, ...args);
  } catch (err) {
    if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
    return redis.eval(script, numKeys, ...args);
  }
}
