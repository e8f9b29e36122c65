-- replayDead — move one DLQ entry back to pending as a fresh task (its attempt count starts again).
--   KEYS[1] failed list   KEYS[2] pending
--   ARGV[1] the DLQ entry, exactly as stored   ARGV[2] the raw task it holds
-- Returns 1, or 0 when the entry was gone (replayed or purged by someone else): never replayed twice.
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[2])
return 1
