-- Shared by every queue script (inlined where a script says `--@include common`).
-- ARGV[1] is always the key prefix ("operations:"). Keys are derived here rather than passed
-- in KEYS because the database lock a lease holds is only known inside the script; this is
-- fine on a single Redis (what the platform runs) but not valid for Redis Cluster.
local prefix = ARGV[1]
local RESUME_PRIORITY = 1000
local RETRY_PRIORITY = 10

local pendingKey = prefix .. 'pending'
local processingKey = prefix .. 'processing'
local leasesKey = prefix .. 'leases'
local delayedKey = prefix .. 'delayed'
local delayedPriorityKey = prefix .. 'delayed-priority'
local resumePriorityKey = prefix .. 'resume-priority'
local restartsKey = prefix .. 'restarts'
local deadKey = prefix .. 'dead'
local deadReasonsKey = prefix .. 'dead-reasons'
local statsKey = prefix .. 'stats'
local recoveredKey = prefix .. 'recovered'

-- Server time, so lease expiry does not depend on any worker's clock.
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function leaseKey(id)
  return prefix .. 'lease:' .. id
end

local function databaseLockKey(databaseId)
  return prefix .. 'dblock:' .. databaseId
end

local function ownsLease(id, token)
  return redis.call('HGET', leaseKey(id), 'token') == token
end

local function unlockDatabase(databaseId, id)
  if databaseId and databaseId ~= '' then
    local key = databaseLockKey(databaseId)
    if redis.call('GET', key) == id then
      redis.call('DEL', key)
    end
  end
end

-- Ends a lease: the id leaves the lease, `operations:processing` and its database lock.
local function releaseLease(id)
  local key = leaseKey(id)
  unlockDatabase(redis.call('HGET', key, 'database'), id)
  redis.call('DEL', key)
  redis.call('ZREM', leasesKey, id)
  redis.call('SREM', processingKey, id)
end

-- A claim that took over from a dead worker and is handed back keeps that mark for the next
-- claim: only a claim whose actor got to read the operation may settle it as dropped.
local function carryRecovered(id, carry)
  if carry == '1' then redis.call('HSET', recoveredKey, id, 2) end
end

-- Clears everything the queue keeps about an id that will never run again.
local function forget(id)
  redis.call('ZREM', pendingKey, id)
  redis.call('ZREM', delayedKey, id)
  redis.call('HDEL', delayedPriorityKey, id)
  redis.call('HDEL', resumePriorityKey, id)
  redis.call('HDEL', restartsKey, id)
  redis.call('HDEL', recoveredKey, id)
end

-- A priority as a number. NaN (a client that read a score of "inf" as NaN) would make a
-- ZADD fail half way through a script, after the id already left the set it was in, and
-- lose it; such a priority becomes `fallback` instead. inf and -inf are kept.
local function priorityOf(value, fallback)
  local priority = tonumber(value)
  if priority == nil or priority ~= priority then return fallback end
  return priority
end

-- Puts an id back in pending ahead of new work, remembering its own priority.
local function resume(id, priority)
  priority = priorityOf(priority, 5)
  redis.call('HSET', resumePriorityKey, id, priority)
  redis.call('ZADD', pendingKey, 'GT', RESUME_PRIORITY + priority, id)
end

-- Parks an id in the delayed set until `dueAt`; it returns to pending with `priority`.
local function delay(id, dueAt, priority)
  redis.call('HDEL', resumePriorityKey, id)
  redis.call('ZREM', pendingKey, id)
  redis.call('ZADD', delayedKey, dueAt, id)
  redis.call('HSET', delayedPriorityKey, id, priorityOf(priority, RETRY_PRIORITY))
end

-- Leases whose holder stopped renewing (the process died): back to pending, ahead of new
-- work, counted as a restart of the operation rather than a failed attempt.
local function recoverExpired(now)
  local expired = redis.call('ZRANGEBYSCORE', leasesKey, '-inf', now, 'LIMIT', 0, 1000)
  for _, id in ipairs(expired) do
    local priority = priorityOf(redis.call('HGET', leaseKey(id), 'priority'), 5)
    releaseLease(id)
    redis.call('HINCRBY', restartsKey, id, 1)
    redis.call('HSET', recoveredKey, id, 1)
    resume(id, priority)
    redis.call('HINCRBY', statsKey, 'leases_recovered', 1)
  end
  return #expired
end

-- Delayed ids whose time has come go back to pending with the priority chosen for them.
local function promoteDue(now)
  local due = redis.call('ZRANGEBYSCORE', delayedKey, '-inf', now, 'LIMIT', 0, 1000)
  for _, id in ipairs(due) do
    local priority = priorityOf(redis.call('HGET', delayedPriorityKey, id), RETRY_PRIORITY)
    redis.call('HDEL', delayedPriorityKey, id)
    redis.call('ZREM', delayedKey, id)
    redis.call('ZADD', pendingKey, 'GT', priority, id)
  end
  return #due
end
