/**
 * The queue's multi-key steps, one Lua script each so that each runs atomically on the server. Kept as strings
 * (not .lua files) so the compiled output needs no asset copying. Each script's header lists its KEYS and ARGV.
 */

/**
 * fetchBatch — move up to N tasks from pending (right end, oldest) to a consumer's processing list.
 *   KEYS[1] pending list
 *   KEYS[2] processing list of this consumer
 *   ARGV[1] N, the most tasks to move
 * Returns the moved tasks, oldest first (possibly empty).
 */
export const FETCH_BATCH = `
local items = redis.call('RPOP', KEYS[1], tonumber(ARGV[1]))
if not items then return {} end
-- LPUSH in chunks: unpack() of thousands of values overflows Lua's C stack.
for i = 1, #items, 500 do
  redis.call('LPUSH', KEYS[2], unpack(items, i, math.min(i + 499, #items)))
end
return items
`;

/**
 * ackBatch — settle tasks: remove each from the processing list.
 *   KEYS[1] processing list of this consumer
 *   ARGV[1..n] the raw tasks, exactly as fetched
 * LREM with count -1 scans from the tail, where the oldest in-flight tasks sit, so acking in fetch order costs
 * little however long the list. Returns the number of tasks removed (fewer means some were reaped meanwhile).
 */
export const ACK_BATCH = `
local removed = 0
for i = 1, #ARGV do
  removed = removed + redis.call('LREM', KEYS[1], -1, ARGV[i])
end
return removed
`;

/**
 * deadLetter — move one task from the processing list to the DLQ with its failure record.
 *   KEYS[1] processing list of this consumer
 *   KEYS[2] failed list (DLQ)
 *   ARGV[1] the raw task, exactly as fetched
 *   ARGV[2] the DLQ record (JSON holding the raw task, reason, attempts, times, consumer)
 * Returns 1 when the task was in the processing list, 0 when it was not (reaped meanwhile; the record is still
 * written, so the failure is never lost).
 */
export const DEAD_LETTER = `
local removed = redis.call('LREM', KEYS[1], -1, ARGV[1])
redis.call('LPUSH', KEYS[2], ARGV[2])
return removed
`;

/**
 * requeue — return every task of a processing list to the consumer end of pending, in their original order
 * (the oldest in-flight task becomes the next to be taken).
 *   KEYS[1] processing list
 *   KEYS[2] pending list
 * Moving from the processing list's left (newest) to pending's right, one by one, leaves the oldest rightmost.
 * Returns the number of tasks returned.
 */
export const REQUEUE = `
local n = 0
while redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') do
  n = n + 1
end
return n
`;
