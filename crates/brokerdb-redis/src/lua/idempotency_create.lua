-- Forwarder idempotency create: set if absent, else return what is there.
-- KEYS[1] record; ARGV[1] new record JSON; ARGV[2] TTL in seconds.
-- Returns {1} when created, {0, existing} otherwise.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  return {1}
end
return {0, redis.call('GET', KEYS[1])}
