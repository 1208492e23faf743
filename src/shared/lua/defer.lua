-- defer: not a failure (the database is busy, say). Waits in the delayed set for `delayMs`
-- and returns to pending with the claim's own priority. Ends the lease, frees the database.
-- ARGV: prefix, id, token, delayMs, priority, carry ('1': keep the claim's recovered mark)
-- Returns 1, or 0 (and changes nothing) if the claim is stale.
--@include common
local id = ARGV[2]
if not ownsLease(id, ARGV[3]) then return 0 end
releaseLease(id)
delay(id, nowMs() + tonumber(ARGV[4]), tonumber(ARGV[5]))
carryRecovered(id, ARGV[6])
return 1
