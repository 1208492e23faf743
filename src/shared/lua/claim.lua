-- claim: recover expired leases, promote due delayed ids, then lease up to `max` of the
-- highest-priority pending ids, each with a fresh token, and add them to processing.
-- ARGV: prefix, max, leaseMs, workerId, token1..tokenN (N >= max)
-- Returns a flat list: id, token, restarts, priority, claimedAt, recovered for each claim:
-- 1 when this claim takes over an expired lease, 2 when an earlier claim did and handed it
-- back before it could look at the operation (see defer.lua), 0 otherwise.
--@include common
local max = tonumber(ARGV[2])
local leaseMs = tonumber(ARGV[3])
local workerId = ARGV[4]
local now = nowMs()

recoverExpired(now)
promoteDue(now)

local claims = {}
local taken = 0
while taken < max do
  local popped = redis.call('ZPOPMAX', pendingKey)
  if #popped == 0 then break end
  local id = popped[1]
  -- An id the platform queued again while a live lease holds it: the holder finishes it.
  if redis.call('EXISTS', leaseKey(id)) == 0 then
    taken = taken + 1
    local token = ARGV[4 + taken]
    local own = redis.call('HGET', resumePriorityKey, id)
    local priority = own or popped[2]
    local restarts = tonumber(redis.call('HGET', restartsKey, id)) or 0
    local recovered = tonumber(redis.call('HGET', recoveredKey, id)) or 0
    redis.call('HDEL', recoveredKey, id)
    redis.call('HDEL', resumePriorityKey, id)
    redis.call('ZREM', delayedKey, id)
    redis.call('HDEL', delayedPriorityKey, id)
    redis.call('HSET', leaseKey(id), 'token', token, 'worker', workerId, 'priority', priority,
      'restarts', restarts, 'claimed_at', now)
    redis.call('ZADD', leasesKey, now + leaseMs, id)
    redis.call('SADD', processingKey, id)
    table.insert(claims, id)
    table.insert(claims, token)
    table.insert(claims, restarts)
    table.insert(claims, tostring(priority))
    table.insert(claims, now)
    table.insert(claims, recovered)
  end
end
return claims
