-- renew: extend many leases, and the database locks they hold, in one round trip.
-- A lease that expired but was not yet recovered by a claimer is still ours and is extended.
-- ARGV: prefix, leaseMs, id1, token1, id2, token2, ...
-- Returns the ids whose lease is no longer ours.
--@include common
local leaseMs = tonumber(ARGV[2])
local now = nowMs()
local lost = {}
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  if ownsLease(id, ARGV[i + 1]) then
    redis.call('ZADD', leasesKey, now + leaseMs, id)
    local databaseId = redis.call('HGET', leaseKey(id), 'database')
    if databaseId then
      local lockKey = databaseLockKey(databaseId)
      if redis.call('GET', lockKey) == id then
        redis.call('PEXPIRE', lockKey, leaseMs)
      end
    end
  else
    table.insert(lost, id)
  end
end
return lost
