-- SSRF rebinding history append: bounded JSON array, oldest first, sliding TTL.
-- KEYS[1] history; ARGV[1] observation JSON; ARGV[2] max entries; ARGV[3] TTL (s).
-- Returns the new length. A stored value that is not a JSON array starts the history afresh.
local list = {}
local current = redis.call('GET', KEYS[1])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' then
    local n, count = #decoded, 0
    for _ in pairs(decoded) do count = count + 1 end
    if count == n then list = decoded end
  end
end
list[#list + 1] = cjson.decode(ARGV[1])
local max = tonumber(ARGV[2])
while #list > max do table.remove(list, 1) end
redis.call('SET', KEYS[1], cjson.encode(list), 'EX', ARGV[3])
return #list
