-- drop: forget an id that must never run (no such operation, already final, cancelled, or
-- not an operation id at all) and count it.
-- ARGV: prefix, id, token
-- Returns 1, or 0 (and changes nothing) if the claim is stale.
--@include common
local id = ARGV[2]
if not ownsLease(id, ARGV[3]) then return 0 end
releaseLease(id)
forget(id)
redis.call('HINCRBY', statsKey, 'dropped', 1)
return 1
