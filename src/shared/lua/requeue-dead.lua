-- requeue-dead: an admin retries a dead-lettered operation; it goes back to pending.
-- ARGV: prefix, id, priority
-- Returns 1, or 0 if the id is not in the dead-letter set.
--@include common
local id = ARGV[2]
if redis.call('ZREM', deadKey, id) == 0 then return 0 end
redis.call('HDEL', deadReasonsKey, id)
redis.call('ZADD', pendingKey, 'GT', tonumber(ARGV[3]), id)
return 1
