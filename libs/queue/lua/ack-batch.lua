#!lua flags=allow-oom
-- ackBatch — settle tasks as done: remove each from the processing list and forget its attempt count.
--   KEYS[1] processing list of this consumer   KEYS[2] attempts hash
--   ARGV[1..n] the raw tasks, exactly as fetched
-- LREM with count -1 scans from the tail, where the oldest in-flight tasks sit, so acking in fetch order costs
-- little however long the list. Returns the number removed (fewer: some were reaped meanwhile).
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
