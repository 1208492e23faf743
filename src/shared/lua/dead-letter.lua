-- dead-letter: out of retries or failed for good. Like complete, and the id is recorded in
-- the dead-letter set with its reason; the oldest entries go once the set exceeds `cap`.
-- ARGV: prefix, id, token, databaseId, type, reason, cap
-- Returns 1, or 0 (and changes nothing) if the claim is stale.
--@include common
local id = ARGV[2]
local databaseId = ARGV[4]
local cap = tonumber(ARGV[7])
if not ownsLease(id, ARGV[3]) then return 0 end
releaseLease(id)
unlockDatabase(databaseId, id)
local dedupKey = prefix .. 'dedup:' .. databaseId .. ':' .. ARGV[5]
if redis.call('GET', dedupKey) == id then redis.call('DEL', dedupKey) end
forget(id)
redis.call('ZADD', deadKey, nowMs(), id)
redis.call('HSET', deadReasonsKey, id, ARGV[6])
redis.call('HINCRBY', statsKey, 'dead_lettered', 1)
local excess = redis.call('ZCARD', deadKey) - cap
if excess > 0 then
  local oldest = redis.call('ZPOPMIN', deadKey, excess)
  for i = 1, #oldest, 2 do redis.call('HDEL', deadReasonsKey, oldest[i]) end
end
return 1
