-- Generation-keyed cache write (audit query cache) under the tenant's current generation.
-- KEYS[1] generation; KEYS[2] entry-key prefix (same hash tag); ARGV[1] entry suffix;
-- ARGV[2] fresh generation if none; ARGV[3] value; ARGV[4] TTL (s). Returns the generation.
local gen = redis.call('GET', KEYS[1])
if not gen then
  gen = ARGV[2]
  redis.call('SET', KEYS[1], gen)
end
redis.call('SET', KEYS[2] .. gen .. ':' .. ARGV[1], ARGV[3], 'EX', ARGV[4])
return gen
