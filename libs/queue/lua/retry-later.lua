#!lua flags=allow-oom
-- retryLater — move one task from the processing list to the delayed set, due at a time, counting the attempt.
--   KEYS[1] processing list   KEYS[2] delayed zset   KEYS[3] attempts hash
--   ARGV[1] the raw task   ARGV[2] due time (epoch ms)   ARGV[3] now (epoch ms), kept as the first failure time
-- Returns 1, or 0 when the task was no longer held (reaped meanwhile: then it is not scheduled twice).
if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then return 0 end
local sha = redis.sha1hex(ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('HINCRBY', KEYS[3], sha, 1)
redis.call('HSETNX', KEYS[3], sha .. ':first', ARGV[3])
return 1
