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

/** A script's argument: a key, a number, or a task's bytes (a string or a Buffer, sent as they are). */
export type ScriptArg = string | number | Buffer;

type Eval = (scriptOrSha: string, numKeys: number, ...args: ScriptArg[]) => Promise<unknown>;

/**
 * ioredis defines a `…Buffer` variant of every command (bulk replies as Buffers); its typings leave out the
 * scripting ones. (Not `callBuffer('evalsha', …)`: with auto-pipelining, as on a cluster, ioredis drops the
 * command's name from a `call`.)
 */
interface ScriptsForBuffers {
  evalshaBuffer: Eval;
  evalBuffer: Eval;
}

/**
 * Runs a script by its SHA (EVALSHA: the server neither receives nor re-hashes the text), loading it with EVAL
 * when the server does not know it yet (first use, or after a restart flushed the script cache).
 */
async function bySha(evalsha: Eval, evalText: Eval, script: string, numKeys: number, args: ScriptArg[]) {
  try {
    return await evalsha(shaOf(script), numKeys, ...args);
  } catch (err) {
    if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
    return evalText(script, numKeys, ...args);
  }
}

/** Runs a Lua script (by its SHA, see bySha); bulk replies come back as strings. */
export async function runScript(
  redis: RedisClient,
  script: string,
  numKeys: number,
  ...args: ScriptArg[]
): Promise<unknown> {
  return bySha(
    (sha, n, ...a) => redis.evalsha(sha, n, ...a),
    (text, n, ...a) => redis.eval(text, n, ...a),
    script,
    numKeys,
    args,
  );
}

/** runScript with its bulk replies as Buffers (tasks' bytes, kept off the JavaScript heap: see RawTask). */
export async function runScriptForBuffers(
  redis: RedisClient,
  script: string,
  numKeys: number,
  ...args: ScriptArg[]
): Promise<unknown> {
  const r = redis as unknown as ScriptsForBuffers;
  return bySha(
    (sha, n, ...a) => r.evalshaBuffer(sha, n, ...a),
    (text, n, ...a) => r.evalBuffer(text, n, ...a),
    script,
    numKeys,
    args,
  );
}
