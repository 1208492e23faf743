-- retry: a failed attempt that may be tried again waits in the delayed set for `delayMs`,
-- then returns to pending at the retry priority. Ends the lease and frees the database.
-- ARGV: prefix, id, token, delayMs
-- Returns 1, or 0 (and changes nothing) if the claim is stale.
--@include common
local id = ARGV[2]
if not ownsLease(id, ARGV[3]) then return 0 end
releaseLease(id)
delay(id, nowMs() + tonumber(ARGV[4]), RETRY_PRIORITY)
return 1
