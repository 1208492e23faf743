-- remove: take a waiting id out of pending and delayed (an admin cancelled it). A leased id
-- is left to its holder, which sees the cancellation in MongoDB.
-- ARGV: prefix, id
-- Returns 1 if the id was waiting, else 0.
--@include common
local id = ARGV[2]
local removed = redis.call('ZREM', pendingKey, id) + redis.call('ZREM', delayedKey, id)
if redis.call('EXISTS', leaseKey(id)) == 0 then forget(id) end
if removed > 0 then return 1 end
return 0
