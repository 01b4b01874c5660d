-- Forwarder idempotency create, second step: the existing value was corrupt (or vanished).
-- Write the new record only if the key still holds that corrupt value or nothing at all, so a
-- valid record written meanwhile is never overwritten.
-- KEYS[1] record; ARGV[1] the corrupt value read; ARGV[2] new record JSON; ARGV[3] TTL (s).
-- Returns 1 when written, else 0.
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
