-- release: hand a claim back on shutdown. The id goes straight back to pending ahead of new
-- work, keeping its own priority for later; not counted as a retry or a restart.
-- ARGV: prefix, id, token, priority, carry ('1': keep the claim's recovered mark)
-- Returns 1, or 0 (and changes nothing) if the claim is stale.
--@include common
local id = ARGV[2]
if not ownsLease(id, ARGV[3]) then return 0 end
releaseLease(id)
resume(id, tonumber(ARGV[4]))
carryRecovered(id, ARGV[5])
return 1
