-- Fixed-window rate-limit step (policy-engine and canonicalizer route rate limits, API token
-- leases). KEYS[1] counter; ARGV[1] window in ms; ARGV[2] hits to count (default 1).
-- Returns {count, ttl_ms}. The window starts at the first hit and is never extended; denied
-- hits still count.
local count = redis.call('INCRBY', KEYS[1], tonumber(ARGV[2] or '1'))
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
