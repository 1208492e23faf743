-- promote: the housekeeping half of claim on its own, so queue depths stay true while no
-- worker has room to claim: recover expired leases and move due delayed ids to pending.
-- ARGV: prefix
-- Returns { recovered, promoted }.
--@include common
local now = nowMs()
local recovered = recoverExpired(now)
return { recovered, promoteDue(now) }
