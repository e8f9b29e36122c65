-- enqueueBounded — LPUSH tasks unless pending would exceed a depth limit.
--   KEYS[1] pending
--   ARGV[1] max depth   ARGV[2..n] the tasks, in order
-- Returns the new depth, or -1 (nothing pushed) when the limit would be exceeded.
local depth = redis.call('LLEN', KEYS[1])
if depth + #ARGV - 1 > tonumber(ARGV[1]) then return -1 end
for i = 2, #ARGV, 500 do
  depth = redis.call('LPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 499, #ARGV)))
end
return depth
