/**
 * The queue's multi-key steps, one Lua script each so that each runs atomically on the server. Scripts that only
 * move or delete tasks declare `allow-oom` (Redis ≥ 7.0 script flags): with Redis at maxmemory and `noeviction`,
 * consumers must still be able to take, settle and return tasks — that is what frees memory. Scripts that add
 * data (enqueue, dead-letter) stay refusable, so a full Redis pushes back on producers. The scripts are
 * `.lua` files in the package's `lua/` folder (read, linted and reviewed as Lua), one per step; each one's header
 * lists KEYS, ARGV and what it returns. They sit beside `src/` and `dist/` alike, so the TypeScript sources and
 * the compiled output load the same files. Attempt counts live in a hash keyed by the SHA-1 of the raw task, so a task's bytes are never
 * re-encoded by Lua (cjson would round floats to 14 digits).
 */
import { readFileSync } from 'node:fs';

const load = (name: string): string => readFileSync(new URL(`../../lua/${name}.lua`, import.meta.url), 'utf8');

export const FETCH_BATCH = load('fetch-batch');
export const ACK_RUN = load('ack-run');
export const ACK_BATCH = load('ack-batch');
export const RETRY_LATER = load('retry-later');
export const PROMOTE_DUE = load('promote-due');
export const DEAD_LETTER = load('dead-letter');
export const REQUEUE = load('requeue');
export const ENQUEUE_BOUNDED = load('enqueue-bounded');
export const REPLAY_DEAD = load('replay-dead');
