-- Sluice: complete or extend a reservation by its record (design §10). After reservation_lib.lua.
-- KEYS[1]: the record (a hash: at, est, exp, done, keys = JSON [[key, kind, us per token, at], ...]:
-- the last two only where needed; a key's `at` (when its entry was written) defaults to the record's).
-- ARGV[1]: 'complete' or 'extend' (single-node Redis: the keys the record names are changed
-- here, in the same atomic step), or 'claim' / 'renew' (Redis Cluster: the record alone; the
-- caller changes the keys slot group by slot group with reservation_apply.lua, then marks the
-- record done with 'finish' — only once every group is changed, so a completion that failed half
-- way can be sent again: the per-group changes find nothing left to do where they were made).
-- ARGV[2]: id, ARGV[3]: actual tokens ('' keeps the estimate), ARGV[4]: lease time in us.
-- ARGV[1] = 'cancel' (single-node Redis): takes back a check whose reply never came (see below).
-- ARGV[1] = 'save' (Redis Cluster, after every slot group admitted): writes the record, with
-- ARGV[3] the estimate, ARGV[5] the keys JSON and ARGV[6] the admission time.
-- Returns {status, est, leaseExpiresInUs, keys JSON}: status 'ok', 'done' (already completed)
-- or 'nf' (unknown or expired). 'claim' changes nothing.
local rec = KEYS[1]
local op, id = ARGV[1], ARGV[2]
local actual = ARGV[3] ~= '' and tonumber(ARGV[3]) or nil
local leaseUs = tonumber(ARGV[4])
if op == 'save' then
  local expires = clock() + leaseUs
  redis.call('HSET', rec, 'at', ARGV[6], 'est', ARGV[3], 'exp', int(expires), 'keys', ARGV[5])
  redis.call('PEXPIRE', rec, int(math.ceil(leaseUs / 1000)))
  return {'ok', tonumber(ARGV[3]), int(leaseUs), ARGV[5]}
end
local f = redis.call('HMGET', rec, 'est', 'exp', 'done', 'keys', 'at')
if op == 'cancel' then
  -- The check that made `id` was given up for lost (its reply never came; its caller was told
  -- "unavailable"). If it ran, everything it wrote is taken back; if it has not run yet, the record
  -- becomes a tombstone that makes window_check.lua refuse it (until the lease time has passed).
  if not f[4] then
    if redis.call('EXISTS', rec) == 0 then
      redis.call('HSET', rec, 'cancelled', '1')
      redis.call('PEXPIRE', rec, int(math.ceil(leaseUs / 1000)))
    end
    return {'nf', 0, 0, ''}
  end
  if f[3] then return {'done', 0, 0, ''} end
  local now = clock()
  local est = tonumber(f[1])
  for _, k in ipairs(cjson.decode(f[4])) do
    local kind = k[2]
    local w = (kind == 't' or kind == 'B') and est or 1
    take_back(k[1], kind, id, k[4] or f[5], w, tonumber(k[3] or 0), now)
  end
  redis.call('DEL', rec)
  redis.call('HSET', rec, 'cancelled', '1')
  redis.call('PEXPIRE', rec, int(math.ceil(leaseUs / 1000)))
  return {'ok', est, 0, f[4]}
end
if not f[4] then return {'nf', 0, 0, ''} end
if f[3] then return {'done', 0, 0, ''} end
local now = clock()
local est = tonumber(f[1])
local expires = tonumber(f[2])
if op == 'claim' then
  return {'ok', est, int(expires - now), f[4]}
elseif op == 'complete' or op == 'finish' then
  redis.call('HSET', rec, 'done', '1')
  if actual then redis.call('HSET', rec, 'est', actual) end
else
  expires = math.max(expires, now + leaseUs)
  redis.call('HSET', rec, 'exp', int(expires))
  redis.call('PEXPIRE', rec, int(math.ceil((expires - now) / 1000)))
end
if op == 'complete' or op == 'extend' then
  for _, k in ipairs(cjson.decode(f[4])) do
    apply(op, k[1], k[2], id, k[4] or f[5], est, actual, now, leaseUs, tonumber(k[3] or 0))
  end
end
return {'ok', est, int(expires - now), f[4]}
