-- Generation-keyed cache read (audit query cache): the tenant's current generation and the
-- entry stored under it. A missing generation is created from ARGV[2] (random), which makes
-- every older entry unreachable. Busting a tenant is one SET of a new generation: O(1).
-- KEYS[1] generation; KEYS[2] entry-key prefix (same hash tag as KEYS[1], so the same slot);
-- ARGV[1] entry suffix; ARGV[2] fresh generation. Returns {generation} or {generation, value}.
local gen = redis.call('GET', KEYS[1])
if not gen then
  redis.call('SET', KEYS[1], ARGV[2])
  return {ARGV[2]}
end
local value = redis.call('GET', KEYS[2] .. gen .. ':' .. ARGV[1])
if value then return {gen, value} end
return {gen}
