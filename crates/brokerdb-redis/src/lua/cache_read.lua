-- Generation-keyed read of the tiered read cache (brokerdb-cache): the generation of one
-- tenant's resource and the entry stored under it, in one round trip. A missing generation is
-- created from ARGV[1] (random), which makes every older entry of the resource unreachable.
-- KEYS[1] generation; KEYS[2] entry key without its generation (same hash tag as KEYS[1], so
-- the same slot; the generation ends the key); ARGV[1] fresh generation.
-- Returns {generation} or {generation, value}.
local gen = redis.call('GET', KEYS[1])
if not gen then
  redis.call('SET', KEYS[1], ARGV[1])
  return {ARGV[1]}
end
local value = redis.call('GET', KEYS[2] .. gen)
if value then return {gen, value} end
return {gen}
