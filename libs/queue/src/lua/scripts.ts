/**
 * The queue's multi-key steps, one Lua script each so that each runs atomically on the server. Scripts that only
 * move or delete tasks declare `allow-oom` (Redis ≥ 7.0 script flags): with Redis at maxmemory and `noeviction`,
 * consumers must still be able to take, settle and return tasks — that is what frees memory. Scripts that add
 * data (enqueue, dead-letter) stay refusable, so a full Redis pushes back on producers. Kept as strings
 * (not .lua files) so the compiled output needs no asset copying. Each script's header lists KEYS, ARGV and
 * what it returns. Attempt counts live in a hash keyed by the SHA-1 of the raw task, so a task's bytes are never
 * re-encoded by Lua (cjson would round floats to 14 digits).
 */

/**
 * fetchBatch — take up to N tasks, oldest first, into a consumer's processing list: from the first lane, then
 * the rest from the second; and renew the consumer's lease in the same step (a consumer never holds tasks
 * without a lease the reaper can see).
 *   KEYS[1] first lane   KEYS[2] second lane   KEYS[3] processing list of this consumer
 *   KEYS[4] consumers zset   KEYS[5] attempts hash
 *   ARGV[1] N   ARGV[2] consumer id   ARGV[3] lease expiry (epoch ms)
 * Returns { tasks in the order taken (empty when the processing list was empty), how many came from the first
 * lane, extra deliveries per task in the order taken (empty when no task of the queue has failed: the common
 * case skips hashing every task), how many were taken, 1 when the processing list was empty before else 0 }.
 *
 * When the processing list was empty, the tasks taken are the whole list afterwards, so the script does not
 * return them: the caller reads them with a plain LRANGE of the list's tail (new tasks only ever enter at the
 * head, so later fetches cannot get in between). And if no task of the queue has failed either (no counts to
 * look up), the first lane's slice is moved by `SORT … BY nosort LIMIT … STORE` plus LTRIM, so its bytes never
 * pass through Lua: turning 500 list elements into Lua strings and back costs about four times what LMPOP
 * spends on them. Otherwise (or when the ACL user may not run SORT) tasks move by RPOP + LPUSH.
 */
export const FETCH_BATCH = `#!lua flags=allow-oom
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])
local want = tonumber(ARGV[1])
local wasEmpty = redis.call('LLEN', KEYS[3]) == 0
local counted = redis.call('HLEN', KEYS[5]) > 0
local out = {}
local counts = {}
local taken = 0
local fromFirst = 0
for lane = 1, 2 do
  if want <= 0 then break end
  local len = redis.call('LLEN', KEYS[lane])
  local n = math.min(len, want)
  if n > 0 then
    local stored = false
    if wasEmpty and not counted and taken == 0 then
      -- pcall: an ACL without SORT (it is in @dangerous) only loses the fast path.
      stored = redis.pcall('SORT', KEYS[lane], 'BY', 'nosort', 'LIMIT', len - n, n, 'STORE', KEYS[3]) == n
    end
    if stored then
      if n == len then redis.call('DEL', KEYS[lane]) else redis.call('LTRIM', KEYS[lane], 0, len - n - 1) end
    else
      local items = redis.call('RPOP', KEYS[lane], n)
      for i = 1, n, 500 do
        redis.call('LPUSH', KEYS[3], unpack(items, i, math.min(i + 499, n)))
      end
      for i = 1, n do
        if not wasEmpty then out[#out + 1] = items[i] end
        if counted then counts[#counts + 1] = tonumber(redis.call('HGET', KEYS[5], redis.sha1hex(items[i])) or '0') end
      end
    end
    if lane == 1 then fromFirst = n end
    taken = taken + n
    want = want - n
  end
end
return { out, fromFirst, counts, taken, wasEmpty and 1 or 0 }
`;

/**
 * ackRun — settle a run of tasks in O(1) network: when the run is exactly the tail of the processing list (the
 * oldest tasks held, in fetch order, none removed from its middle) and no failure bookkeeping exists, trim it.
 *   KEYS[1] processing list   KEYS[2] attempts hash
 *   ARGV[1] number of tasks   ARGV[2] the first (oldest) task   ARGV[3] the last task
 * Only the tail can hold the run's first task, and only the list's own order can put the last task `n` from the
 * tail, because tasks enter only at the head and leave only by removal. Returns n, or -1 when the shortcut does
 * not apply (the caller then acks by value with ackBatch).
 */
export const ACK_RUN = `#!lua flags=allow-oom
local n = tonumber(ARGV[1])
if redis.call('HLEN', KEYS[2]) > 0 then return -1 end
if redis.call('LINDEX', KEYS[1], -1) ~= ARGV[2] then return -1 end
if redis.call('LINDEX', KEYS[1], -n) ~= ARGV[3] then return -1 end
if redis.call('LLEN', KEYS[1]) == n then redis.call('DEL', KEYS[1]) else redis.call('LTRIM', KEYS[1], 0, -n - 1) end
return n
`;

/**
 * ackBatch — settle tasks as done: remove each from the processing list and forget its attempt count.
 *   KEYS[1] processing list of this consumer   KEYS[2] attempts hash
 *   ARGV[1..n] the raw tasks, exactly as fetched
 * LREM with count -1 scans from the tail, where the oldest in-flight tasks sit, so acking in fetch order costs
 * little however long the list. Returns the number removed (fewer: some were reaped meanwhile).
 */
export const ACK_BATCH = `#!lua flags=allow-oom
local removed = 0
local counted = redis.call('HLEN', KEYS[2]) > 0
for i = 1, #ARGV do
  local n = redis.call('LREM', KEYS[1], -1, ARGV[i])
  if n > 0 and counted then
    local sha = redis.sha1hex(ARGV[i])
    redis.call('HDEL', KEYS[2], sha, sha .. ':first')
  end
  removed = removed + n
end
return removed
`;

/**
 * retryLater — move one task from the processing list to the delayed set, due at a time, counting the attempt.
 *   KEYS[1] processing list   KEYS[2] delayed zset   KEYS[3] attempts hash
 *   ARGV[1] the raw task   ARGV[2] due time (epoch ms)   ARGV[3] now (epoch ms), kept as the first failure time
 * Returns 1, or 0 when the task was no longer held (reaped meanwhile: then it is not scheduled twice).
 */
export const RETRY_LATER = `#!lua flags=allow-oom
if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then return 0 end
local sha = redis.sha1hex(ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('HINCRBY', KEYS[3], sha, 1)
redis.call('HSETNX', KEYS[3], sha .. ':first', ARGV[3])
return 1
`;

/**
 * promoteDue — move retries whose time has come back to the consumer end of pending (taken next).
 *   KEYS[1] delayed zset   KEYS[2] pending
 *   ARGV[1] now (epoch ms)   ARGV[2] most tasks to move
 * Returns the number moved.
 */
export const PROMOTE_DUE = `#!lua flags=allow-oom
local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #due do
  redis.call('ZREM', KEYS[1], due[i])
  redis.call('RPUSH', KEYS[2], due[i])
end
return #due
`;

/**
 * deadLetter — settle one task of the processing list by writing DLQ records: its own failure record, or the
 * records of the parts of it that failed (a task whose good readings were stored: each bad part a task of its own).
 *   KEYS[1] processing list   KEYS[2] failed list (DLQ)   KEYS[3] attempts hash
 *   ARGV[1] the raw task   ARGV[2..n] the DLQ records (JSON: raw task, reason, attempts, times, consumer)
 * Returns 1 when the task was held, 0 when it was not (reaped meanwhile); the records are written either way, so a
 * failure is never lost, and a task reaped and then dead-lettered by its new owner shows up twice, never zero
 * times. Removal and records are one step: a consumer dying around it leaves either the task (delivered again,
 * its parts found again) or the records, never both, never neither.
 */
export const DEAD_LETTER = `
local removed = redis.call('LREM', KEYS[1], -1, ARGV[1])
for i = 2, #ARGV do redis.call('LPUSH', KEYS[2], ARGV[i]) end
local sha = redis.sha1hex(ARGV[1])
redis.call('HDEL', KEYS[3], sha, sha .. ':first')
return removed
`;

/**
 * requeue — return every task of a processing list to the consumer end of pending, in their original order (the
 * oldest in-flight task becomes the next to be taken), and drop the consumer's lease.
 *   KEYS[1] processing list   KEYS[2] pending   KEYS[3] consumers zset   KEYS[4] attempts hash
 *   ARGV[1] consumer id   ARGV[2] 1 to count a delivery for each task (the reaper), 0 not to (a graceful stop)
 *   ARGV[3] only if the lease expired before this time (epoch ms), or '' for unconditionally
 * Moving from the processing list's left (newest) to pending's right, one by one, leaves the oldest rightmost.
 * Returns the number returned, or -1 when the lease was renewed meanwhile (the consumer is alive after all).
 */
export const REQUEUE = `#!lua flags=allow-oom
if ARGV[3] ~= '' then
  local lease = redis.call('ZSCORE', KEYS[3], ARGV[1])
  if lease and tonumber(lease) >= tonumber(ARGV[3]) then return -1 end
end
local n = 0
while true do
  local item = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
  if not item then break end
  if ARGV[2] == '1' then redis.call('HINCRBY', KEYS[4], redis.sha1hex(item), 1) end
  n = n + 1
end
redis.call('ZREM', KEYS[3], ARGV[1])
return n
`;

/**
 * enqueueBounded — LPUSH tasks unless pending would exceed a depth limit.
 *   KEYS[1] pending
 *   ARGV[1] max depth   ARGV[2..n] the tasks, in order
 * Returns the new depth, or -1 (nothing pushed) when the limit would be exceeded.
 */
export const ENQUEUE_BOUNDED = `
local depth = redis.call('LLEN', KEYS[1])
if depth + #ARGV - 1 > tonumber(ARGV[1]) then return -1 end
for i = 2, #ARGV, 500 do
  depth = redis.call('LPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 499, #ARGV)))
end
return depth
`;

/**
 * replayDead — move one DLQ entry back to pending as a fresh task (its attempt count starts again).
 *   KEYS[1] failed list   KEYS[2] pending
 *   ARGV[1] the DLQ entry, exactly as stored   ARGV[2] the raw task it holds
 * Returns 1, or 0 when the entry was gone (replayed or purged by someone else): never replayed twice.
 */
export const REPLAY_DEAD = `
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[2])
return 1
`;
