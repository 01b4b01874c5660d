-- SSRF DNS cache compare-and-set: an entry older than the stored one is skipped.
-- KEYS[1] entry; ARGV[1] entry JSON; ARGV[2] its resolved_at_epoch_ms; ARGV[3] ttl_seconds.
-- Returns 1 (applied) or 0 (skipped_stale; value and TTL untouched).
local current = redis.call('GET', KEYS[1])
if current then
  local ok, rec = pcall(cjson.decode, current)
  if ok and type(rec) == 'table' and type(rec.resolved_at_epoch_ms) == 'number'
      and tonumber(ARGV[2]) < rec.resolved_at_epoch_ms then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
