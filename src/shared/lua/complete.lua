-- complete: the operation reached a final state. Ends the lease, frees the database and
-- clears the platform's dedup key, but only if that key still names this operation.
-- ARGV: prefix, id, token, databaseId, type
-- Returns 1, or 0 (and changes nothing) if the claim is stale.
--@include common
local id = ARGV[2]
local databaseId = ARGV[4]
if not ownsLease(id, ARGV[3]) then return 0 end
releaseLease(id)
unlockDatabase(databaseId, id)
local dedupKey = prefix .. 'dedup:' .. databaseId .. ':' .. ARGV[5]
if redis.call('GET', dedupKey) == id then redis.call('DEL', dedupKey) end
forget(id)
return 1
