-- Compare-and-delete: owner-token lock release, and self-healing deletes that must not remove a
-- value written after the corrupt one was read.
-- KEYS[1] key; ARGV[1] expected value. Returns 1 when deleted, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
