-- Adds entries an order's timeline lacks, by version, keeping those it
-- has: a timeline rebuilt from orders-service after Redis lost it.
--
-- KEYS[1]  the order's state hash
-- KEYS[2]  the order's timeline sorted set
-- ARGV     version, entry JSON, version, entry JSON, ...
--
-- Nothing is added for an order whose state is gone: the timeline would
-- then outlive it. The timeline takes the state's time to live.
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then
  return 0
end
local added = 0
for i = 1, #ARGV, 2 do
  local version = tonumber(ARGV[i])
  if redis.call('ZCOUNT', KEYS[2], version, version) == 0 then
    redis.call('ZADD', KEYS[2], version, ARGV[i + 1])
    added = added + 1
  end
end
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return added
