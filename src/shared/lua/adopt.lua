-- adopt: put back into pending the ids MongoDB says are unfinished but no queue structure
-- holds (pending, delayed, a lease, dead letters): work Redis lost, e.g. the last second of
-- writes before a restart, or operations left in progress by an older worker.
-- ARGV: prefix, priority, id...
-- Returns the ids it put back.
--@include common
local priority = tonumber(ARGV[2])
local adopted = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  if redis.call('ZSCORE', pendingKey, id) == false
    and redis.call('ZSCORE', delayedKey, id) == false
    and redis.call('ZSCORE', leasesKey, id) == false
    and redis.call('ZSCORE', deadKey, id) == false then
    redis.call('ZADD', pendingKey, priority, id)
    adopted[#adopted + 1] = id
  end
end
return adopted
