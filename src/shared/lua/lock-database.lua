-- lock-database: take the one-operation-per-database lock for a live claim. Re-entrant for
-- the same operation id, so an operation resumed after a crash gets its own lock back.
-- ARGV: prefix, id, token, databaseId, leaseMs
-- Returns 1 if the lock is ours, 0 if another operation holds it, -1 if the claim is stale.
--@include common
local id = ARGV[2]
local databaseId = ARGV[4]
local leaseMs = tonumber(ARGV[5])
if not ownsLease(id, ARGV[3]) then return -1 end
local lockKey = databaseLockKey(databaseId)
local holder = redis.call('GET', lockKey)
if holder and holder ~= id then return 0 end
redis.call('SET', lockKey, id, 'PX', leaseMs)
redis.call('HSET', leaseKey(id), 'database', databaseId)
return 1
