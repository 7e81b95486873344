-- SPDX-License-Identifier: Apache-2.0
-- Sluice: one atomic check over every key of a request (design §4, §10, §11).
-- KEYS: the window keys, most specific policy first; when ARGV[3] is '1', one more: the
-- reservation record to write (single-node Redis; the Cluster store writes it itself).
-- ARGV[1]: id (unique across instances), ARGV[2]: lease time in us, ARGV[3]: '1' to write the
-- reservation record, then per key six values: window_us, limit, weight, kind, burst, shadow
-- ('1': never refuses; written only where it fits). Kinds:
--   'r' a log entry of weight `weight` (requests), 't' the same, reweighable at completion (tokens),
--   'c' a lease (concurrent): member = id scored by its expiry, counts while now < expiry,
--   'b' a token bucket (GCRA): the key is a string, the TAT in us; a request of weight w fits when
--       max(TAT, now) + w*T - now <= burst*T (T = window / limit), 'B' the same, reweighable.
-- A window entry counts while now - window < t <= now. The request is admitted only if every
-- key that is not a shadow fits; only then is it added (to shadow keys only where they fit), each
-- key's TTL set to its window, the lease time, or until its bucket is full again. A refused
-- request writes nothing.
-- Weights: an entry's member is the id, + "*<w>" when w ~= 1; used = ZCARD + the key's "extra
-- weight" (sum of w - 1 over its entries, negative when entries weigh 0), kept in <key>#w (same
-- hash tag, so same Cluster slot) only while it is not 0: with unit weights no such key exists
-- and one EXISTS per check covers them all. A tokens key ('t') may hold entries of weight 0, so
-- its extra weight can be 0 while weighted entries remain: its leaving entries are always read.
-- Returns {now_us, admitted (0/1), used_1, oldest_1, used_2, oldest_2, ...}: oldest = -1 when
-- empty; for a lease key the earliest expiry; for a bucket max(TAT, now) and used its tokens
-- drained (rounded up).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
-- Scores go to Redis as integer strings: tostring() of a number this large would round it.
local function int(x) return string.format('%.0f', x) end
local id = ARGV[1]
local leaseUs = tonumber(ARGV[2])
local withRecord = ARGV[3] == '1'
local n = #KEYS
if withRecord then n = n - 1 end
local used, oldest, fits, windows, weights, kinds, tats, perToken = {}, {}, {}, {}, {}, {}, {}, {}
local admitted = 1
-- One EXISTS tells whether any key has weighted entries at all: only then per-key GETs.
local wkeys = {}
for i = 1, n do wkeys[i] = KEYS[i] .. '#w' end
local weighted = n > 0 and redis.call('EXISTS', unpack(wkeys)) > 0
for i = 1, n do
  local base = 4 + 6 * (i - 1)
  local window, limit, w, kind = tonumber(ARGV[base]), tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2]), ARGV[base + 3]
  local burst, shadow = tonumber(ARGV[base + 4]), ARGV[base + 5] == '1'
  windows[i], weights[i], kinds[i] = window, w, kind
  oldest[i] = -1
  if kind == 'c' then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', int(now))
    used[i] = redis.call('ZCARD', KEYS[i])
    fits[i] = used[i] + w <= limit
  elseif kind == 'b' or kind == 'B' then
    local T = limit > 0 and window / limit or math.huge
    local at = math.max(tonumber(redis.call('GET', KEYS[i]) or '0'), now)
    local drained = (at - now) / T
    perToken[i] = T
    used[i] = math.ceil(drained - 1e-9)
    oldest[i] = math.ceil(at)
    fits[i] = limit > 0 and drained + w <= burst + 1e-9
    tats[i] = at + w * T
  else
    local horizon = int(now - window)
    local wkey = wkeys[i]
    local extra = weighted and tonumber(redis.call('GET', wkey) or '0') or 0
    if extra ~= 0 or kind == 't' then
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
    fits[i] = used[i] + w <= limit
  end
  if not fits[i] and not shadow then admitted = 0 end
  if shadow and not fits[i] then fits[i] = 'skip' end
end
local out = {now, admitted}
for i = 1, n do
  if oldest[i] < 0 and used[i] > 0 and kinds[i] ~= 'b' and kinds[i] ~= 'B' then
    oldest[i] = tonumber(redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')[2])
  end
  out[1 + 2 * i] = used[i]
  out[2 + 2 * i] = oldest[i]
end
if admitted == 1 then
  local expires = now + leaseUs
  local reserved = {}
  for i = 1, n do
    local k, w, kind = KEYS[i], weights[i], kinds[i]
    if fits[i] == 'skip' then
      -- a shadow policy that would have refused: nothing written
    elseif kind == 'c' then
      redis.call('ZADD', k, int(expires), id)
      redis.call('PEXPIRE', k, int(math.ceil(leaseUs / 1000)))
      reserved[#reserved + 1] = {k, 'c'}
    elseif kind == 'b' or kind == 'B' then
      redis.call('SET', k, string.format('%.3f', tats[i]), 'PX', int(math.max(1, math.ceil((tats[i] - now) / 1000))))
      if kind == 'B' then reserved[#reserved + 1] = {k, 'B', perToken[i]} end
    else
      local ttl = int(math.ceil(windows[i] / 1000))
      redis.call('ZADD', k, int(now), w == 1 and id or (id .. '*' .. w))
      redis.call('PEXPIRE', k, ttl)
      if w ~= 1 then
        redis.call('INCRBY', k .. '#w', w - 1)
        redis.call('PEXPIRE', k .. '#w', ttl)
      end
      if kind == 't' then reserved[#reserved + 1] = {k, 't'} end
    end
  end
  if withRecord then
    local est = 0
    for i = 1, n do if kinds[i] == 't' or kinds[i] == 'B' then est = weights[i] end end
    redis.call('HSET', KEYS[n + 1], 'at', int(now), 'est', est, 'exp', int(expires), 'keys', cjson.encode(reserved))
    redis.call('PEXPIRE', KEYS[n + 1], int(math.ceil(leaseUs / 1000)))
  end
end
return out
