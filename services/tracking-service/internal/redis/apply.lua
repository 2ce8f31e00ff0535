-- Applies one order state to the tracking view, atomically.
--
-- KEYS[1]  the order's state hash (fields: version, state)
-- KEYS[2]  the order's timeline sorted set (score: version, member: entry JSON)
-- ARGV[1]  the state's version
-- ARGV[2]  the state as JSON
-- ARGV[3]  the state's timeline entry as JSON
-- ARGV[4]  time to live of both keys, in milliseconds
-- ARGV[5]  pub/sub channel announcing the order's changes
-- ARGV[6]  '1': store nothing for an order whose state is gone, unless
--          this is its first version (an event is then not trusted
--          alone: it may be a replayed old one)
--
-- Returns 1 when the state replaced the stored one, 0 when it was not
-- newer, 2 when it was not stored because the order is unknown (ARGV[6]).
local version = tonumber(ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[1], 'version'))
if current == nil and ARGV[6] == '1' and version > 1 then
  return 2
end

local applied = 0
if current == nil or version > current then
  redis.call('HSET', KEYS[1], 'version', ARGV[1], 'state', ARGV[2])
  applied = 1
end

-- The timeline takes one entry per version, whether or not the state was
-- newer: a late event still fills its gap in the timeline (for instance
-- after a refill from orders-service jumped ahead), and a replay, whose
-- version is already there, adds nothing.
local added = 0
if redis.call('ZCOUNT', KEYS[2], version, version) == 0 then
  redis.call('ZADD', KEYS[2], version, ARGV[3])
  added = 1
end

-- Both keys get the same time to live, so the timeline never outlives or
-- dies before the state it belongs to.
if applied == 1 or added == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end

-- Published from inside the script, so subscribers see changes in the
-- order they were stored and never a change that was not stored.
if applied == 1 then
  redis.call('PUBLISH', ARGV[5], ARGV[2])
end
return applied
