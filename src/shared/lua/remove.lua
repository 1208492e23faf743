-- remove: take a waiting id out of pending and delayed (it was cancelled). A leased id is
-- left to its holder, which sees the cancellation in MongoDB. When the operation's database
-- and type are given, the platform's dedup key is cleared too if it still names this id.
-- ARGV: prefix, id, [databaseId, type]
-- Returns 1 if the id was waiting, else 0.
--@include common
local id = ARGV[2]
local removed = redis.call('ZREM', pendingKey, id) + redis.call('ZREM', delayedKey, id)
if redis.call('EXISTS', leaseKey(id)) == 0 then
  forget(id)
  if ARGV[3] and ARGV[4] then
    local dedupKey = prefix .. 'dedup:' .. ARGV[3] .. ':' .. ARGV[4]
    if redis.call('GET', dedupKey) == id then redis.call('DEL', dedupKey) end
  end
end
if removed > 0 then return 1 end
return 0
