-- MCP token bucket: refill, then take one token, atomically.
-- KEYS[1]  the bucket (a hash: `tokens` as a double, `ts` the instant of that level in ms)
-- ARGV[1]  capacity (integer >= 1)
-- ARGV[2]  refill rate in tokens per second (> 0)
-- ARGV[3]  now in ms since the epoch, or '' to read the server's clock (TIME)
-- ARGV[4]  margin in ms added to the key's TTL
-- Returns {allowed (0|1), remaining whole tokens, retry_after_ms (0 when allowed)}.
-- A missing bucket is full. The level moves by elapsed × rate (capped at capacity); a clock that
-- goes backwards refills nothing and never moves `ts` back. The key expires once it would be
-- full again (plus the margin), so idle buckets disappear and reappear full, as they would be.
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local margin = tonumber(ARGV[4])

local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
if tokens > capacity then
  tokens = capacity
end
if now > ts then
  -- (elapsed × rate) / 1000, in that order, so whole-token refills stay exact.
  tokens = math.min(capacity, tokens + ((now - ts) * rate) / 1000)
  ts = now
end

local allowed = 0
local retry_after = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry_after = math.ceil(((1 - tokens) * 1000) / rate)
end

-- %.17g keeps the double exactly (tostring would round it to 14 digits).
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%d', ts))
local ttl = math.ceil(((capacity - tokens) * 1000) / rate) + margin
redis.call('PEXPIRE', KEYS[1], ttl)
return {allowed, math.floor(tokens), retry_after}
