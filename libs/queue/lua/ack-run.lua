#!lua flags=allow-oom
-- ackRun — settle a run of tasks in O(1) network: when the run is exactly the tail of the processing list (the
-- oldest tasks held, in fetch order, none removed from its middle) and no failure bookkeeping exists, trim it.
--   KEYS[1] processing list   KEYS[2] attempts hash
--   ARGV[1] number of tasks   ARGV[2] the first (oldest) task   ARGV[3] the last task
-- Only the tail can hold the run's first task, and only the list's own order can put the last task `n` from the
-- tail, because tasks enter only at the head and leave only by removal. Returns n, or -1 when the shortcut does
-- not apply (the caller then acks by value with ackBatch).
local n = tonumber(ARGV[1])
if redis.call('HLEN', KEYS[2]) > 0 then return -1 end
if redis.call('LINDEX', KEYS[1], -1) ~= ARGV[2] then return -1 end
if redis.call('LINDEX', KEYS[1], -n) ~= ARGV[3] then return -1 end
if redis.call('LLEN', KEYS[1]) == n then redis.call('DEL', KEYS[1]) else redis.call('LTRIM', KEYS[1], 0, -n - 1) end
return n
