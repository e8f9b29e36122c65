-- deadLetter — settle one task of the processing list by writing DLQ records: its own failure record, or the
-- records of the parts of it that failed (a task whose good readings were stored: each bad part a task of its own).
--   KEYS[1] processing list   KEYS[2] failed list (DLQ)   KEYS[3] attempts hash
--   ARGV[1] the raw task   ARGV[2..n] the DLQ records (JSON: raw task, reason, attempts, times, consumer)
-- Returns 1 when the task was held, 0 when it was not (reaped meanwhile); the records are written either way, so a
-- failure is never lost, and a task reaped and then dead-lettered by its new owner shows up twice, never zero
-- times. Removal and records are one step: a consumer dying around it leaves either the task (delivered again,
-- its parts found again) or the records, never both, never neither.
local removed = redis.call('LREM', KEYS[1], -1, ARGV[1])
for i = 2, #ARGV do redis.call('LPUSH', KEYS[2], ARGV[i]) end
local sha = redis.sha1hex(ARGV[1])
redis.call('HDEL', KEYS[3], sha, sha .. ':first')
return removed
