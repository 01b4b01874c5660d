-- Forwarder idempotency guarded update: in_progress → completed | failed.
-- KEYS[1] record; ARGV[1] correlation_id; ARGV[2] 'completed' or 'failed';
-- ARGV[3] upstream_status_code, ARGV[4] response_bytes (completed); ARGV[5] error_code (failed).
-- Returns 1 when updated, else 0. Keeps the remaining TTL; a record without one gets
-- expires_at_epoch_ms − server time, or is deleted when that is already past.
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local ok, rec = pcall(cjson.decode, raw)
if not ok or type(rec) ~= 'table' then return 0 end
if rec.state ~= 'in_progress' then return 0 end
if rec.correlation_id ~= ARGV[1] then return 0 end
rec.state = ARGV[2]
if ARGV[2] == 'completed' then
  rec.upstream_status_code = tonumber(ARGV[3])
  rec.response_bytes = tonumber(ARGV[4])
  rec.error_code = nil
else
  rec.error_code = ARGV[5]
  rec.upstream_status_code = nil
  rec.response_bytes = nil
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  local expires = tonumber(rec.expires_at_epoch_ms)
  if not expires then return 0 end
  local now = redis.call('TIME')
  ttl = expires - (tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
  if ttl <= 0 then
    redis.call('DEL', KEYS[1])
    return 0
  end
end
redis.call('SET', KEYS[1], cjson.encode(rec), 'PX', ttl)
return 1
