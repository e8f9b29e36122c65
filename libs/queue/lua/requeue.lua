#!lua flags=allow-oom
-- requeue — return every task of a processing list to the consumer end of pending, in their original order (the
-- oldest in-flight task becomes the next to be taken), and drop the consumer's lease.
--   KEYS[1] processing list   KEYS[2] pending   KEYS[3] consumers zset   KEYS[4] attempts hash
--   ARGV[1] consumer id   ARGV[2] 1 to count a delivery for each task (the reaper), 0 not to (a graceful stop)
--   ARGV[3] only if the lease expired before this time (epoch ms), or '' for unconditionally
-- Moving from the processing list's left (newest) to pending's right, one by one, leaves the oldest rightmost.
-- Returns the number returned, or -1 when the lease was renewed meanwhile (the consumer is alive after all).
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
