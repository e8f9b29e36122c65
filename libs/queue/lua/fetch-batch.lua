#!lua flags=allow-oom
-- fetchBatch — take up to N tasks, oldest first, into a consumer's processing list: from the first lane, then
-- the rest from the second; and renew the consumer's lease in the same step (a consumer never holds tasks
-- without a lease the reaper can see).
--   KEYS[1] first lane   KEYS[2] second lane   KEYS[3] processing list of this consumer
--   KEYS[4] consumers zset   KEYS[5] attempts hash
--   ARGV[1] N   ARGV[2] consumer id   ARGV[3] lease expiry (epoch ms)
-- Returns { tasks in the order taken (empty when the processing list was empty), how many came from the first
-- lane, extra deliveries per task in the order taken (empty when no task of the queue has failed: the common
-- case skips hashing every task), how many were taken, 1 when the processing list was empty before else 0 }.
--
-- When the processing list was empty, the tasks taken are the whole list afterwards, so the script does not
-- return them: the caller reads them with a plain LRANGE of the list's tail (new tasks only ever enter at the
-- head, so later fetches cannot get in between). And if no task of the queue has failed either (no counts to
-- look up), the first lane's slice is moved by `SORT … BY nosort LIMIT … STORE` plus LTRIM, so its bytes never
-- pass through Lua: turning 500 list elements into Lua strings and back costs about four times what LMPOP
-- spends on them. Otherwise (or when the ACL user may not run SORT) tasks move by RPOP + LPUSH.
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
