#!lua flags=allow-oom
-- promoteDue — move retries whose time has come back to the consumer end of pending (taken next).
--   KEYS[1] delayed zset   KEYS[2] pending
--   ARGV[1] now (epoch ms)   ARGV[2] most tasks to move
-- Returns the number moved.
local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #due do
  redis.call('ZREM', KEYS[1], due[i])
  redis.call('RPUSH', KEYS[2], due[i])
end
return #due
