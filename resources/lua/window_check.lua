-- SPDX-License-Identifier: Apache-2.0
-- Sluice: one atomic sliding-window-log check over every key of a request (design §4, §10).
-- KEYS: the window keys, most specific policy first; when ARGV[4] is '1', one more: the
-- reservation record to write (single-node Redis; the Cluster store writes it itself).
-- ARGV[1]: id (unique across instances), ARGV[2]: unused ("all"/"decision": every key's oldest
-- entry is returned, so every store reports the same reset times), ARGV[3]: lease time in us, ARGV[4]: '1' to write the
-- reservation record, then per key: window_us, limit, weight, kind:
--   'r' an entry of weight `weight` (requests), 't' the same, reweighable at completion (tokens),
--   'c' a lease (concurrent): member = id scored by its expiry, counts while now < expiry.
-- A window entry counts while now - window < t <= now. The request is admitted only if, for
-- every key, used + weight <= limit; only then is it added to every key (each key's TTL set to
-- its window, or the lease time). A refused request writes nothing.
-- Weights: an entry's member is the id, + "*<w>" when w ~= 1; used = ZCARD + the key's "extra
-- weight" (sum of w - 1 over its entries, negative when entries weigh 0), kept in <key>#w (same
-- hash tag, so same Cluster slot) only while it is not 0: with unit weights no such key exists
-- and one EXISTS per check covers them all. A tokens key ('t') may hold entries of weight 0, so
-- its extra weight can be 0 while weighted entries remain: its leaving entries are always read.
-- Returns {now_us, admitted (0/1), used_1, oldest_1, used_2, oldest_2, ...}
-- (oldest = -1: empty, or not asked for; for a lease key, the earliest expiry).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
-- Scores go to Redis as integer strings: tostring() of a number this large would round it.
local function int(x) return string.format('%.0f', x) end
local id = ARGV[1]
local leaseUs = tonumber(ARGV[3])
local withRecord = ARGV[4] == '1'
local n = #KEYS
if withRecord then n = n - 1 end
local used, limits, windows, weights, kinds = {}, {}, {}, {}, {}
local admitted = 1
-- One EXISTS tells whether any key has weighted entries at all: only then per-key GETs.
local wkeys = {}
for i = 1, n do wkeys[i] = KEYS[i] .. '#w' end
local weighted = n > 0 and redis.call('EXISTS', unpack(wkeys)) > 0
for i = 1, n do
  local base = 1 + 4 * i
  local window, limit = tonumber(ARGV[base]), tonumber(ARGV[base + 1])
  windows[i], limits[i], weights[i], kinds[i] = window, limit, tonumber(ARGV[base + 2]), ARGV[base + 3]
  if kinds[i] == 'c' then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', int(now))
    used[i] = redis.call('ZCARD', KEYS[i])
  else
    local horizon = int(now - window)
    local wkey = wkeys[i]
    local extra = weighted and tonumber(redis.call('GET', wkey) or '0') or 0
    if extra ~= 0 or kinds[i] == 't' then
      -- take out the extra weight of the entries about to leave
      local before = extra
      for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[i], '-inf', horizon)) do
        extra = extra - (tonumber(string.match(m, '%*(%d+)$') or '1') - 1)
      end
      if extra ~= before then
        if extra ~= 0 then
          redis.call('SET', wkey, extra)
          redis.call('PEXPIRE', wkey, int(math.ceil(window / 1000)))
        else
          redis.call('DEL', wkey)
        end
      end
    end
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', horizon)
    used[i] = redis.call('ZCARD', KEYS[i]) + extra
  end
  if used[i] + weights[i] > limit then admitted = 0 end
end
local out = {now, admitted}
for i = 1, n do
  local oldest = -1
  if used[i] > 0 then
    oldest = tonumber(redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')[2])
  end
  out[1 + 2 * i] = used[i]
  out[2 + 2 * i] = oldest
end
if admitted == 1 then
  local expires = now + leaseUs
  local reserved = {}
  for i = 1, n do
    local k, w = KEYS[i], weights[i]
    if kinds[i] == 'c' then
      redis.call('ZADD', k, int(expires), id)
      redis.call('PEXPIRE', k, int(math.ceil(leaseUs / 1000)))
      reserved[#reserved + 1] = {k, 'c'}
    else
      local ttl = int(math.ceil(windows[i] / 1000))
      redis.call('ZADD', k, int(now), w == 1 and id or (id .. '*' .. w))
      redis.call('PEXPIRE', k, ttl)
      if w ~= 1 then
        redis.call('INCRBY', k .. '#w', w - 1)
        redis.call('PEXPIRE', k .. '#w', ttl)
      end
      if kinds[i] == 't' then reserved[#reserved + 1] = {k, 't'} end
    end
  end
  if withRecord then
    local est = 0
    for i = 1, n do if kinds[i] == 't' then est = weights[i] end end
    redis.call('HSET', KEYS[n + 1], 'at', int(now), 'est', est, 'exp', int(expires), 'keys', cjson.encode(reserved))
    redis.call('PEXPIRE', KEYS[n + 1], int(math.ceil(leaseUs / 1000)))
  end
end
return out
