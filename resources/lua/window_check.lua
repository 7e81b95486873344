-- SPDX-License-Identifier: Apache-2.0
-- Sluice: a batch of checks, decided in order in one atomic step (design §4, §10, §11): each
-- check sees the entries of those before it, exactly as if they had come one by one; the per-call
-- cost (EVALSHA, TIME, pruning the shared keys) is paid once per batch.
-- KEYS: the distinct window keys of the batch (ARGV[1] of them), then the reservation records to
-- write (single-node Redis; the Cluster store writes its records itself).
-- ARGV[1]: number of window keys, ARGV[2]: number of checks, then per window key five values:
-- window_us, limit, kind, burst, shadow ('1': never refuses; written only where it fits), then per
-- check: id (unique across instances), lease time in us, its record (index into KEYS, 0: none),
-- its number of keys n, then n pairs: key index (1-based into KEYS), weight.
-- Kinds:
--   'r' a log entry of weight `weight` (requests), 't' the same, reweighable at completion (tokens),
--   'c' a lease (concurrent): member = id scored by its expiry, counts while now < expiry,
--   'b' a token bucket (GCRA): the key is a string, the TAT in us; a request of weight w fits when
--       max(TAT, now) + w*T - now <= burst*T (T = window / limit), 'B' the same, reweighable.
-- A log ('r', 't') is a LIST appended in time order (`now` is Redis TIME and one script runs at a
-- time): an element is the entry's time in us, "<time>:<w>" when its weight w ~= 1, so a list of
-- unit entries is a listpack of integers (~10 bytes an entry). Pruning pops from the front. Used
-- = LLEN + the key's extra weight (sum of w - 1 over its entries), kept in <key>#w (same hash tag)
-- only while it is not 0. A key still in the sorted-set layout of Sluice <= 0.4 is converted on
-- first touch (see convert()).
-- A window entry counts while now - window < t <= now. A check is admitted only if every key
-- that is not a shadow fits; only then is it added (to shadow keys only where they fit), each
-- key's TTL set to its window, the lease time, or until its bucket is full again. A refused check
-- writes nothing.
-- Returns {now_us, then per check: admitted (0/1), used_1, oldest_1, used_2, oldest_2, ...}:
-- used/oldest as the check found them (after the checks before it); oldest = -1 when empty; for
-- a lease key the earliest expiry; for a bucket max(TAT, now), used its tokens drained (rounded up).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
-- Scores and times go to Redis as integer strings: tostring() of a number this large would round it.
local function int(x) return string.format('%.0f', x) end
local nowStr = int(now)
local nkeys, nchecks = tonumber(ARGV[1]), tonumber(ARGV[2])
local CHUNK = 64

-- An element's time and weight.
local function parse(e)
  local ts = tonumber(e)
  if ts then return ts, 1 end
  local a, w = string.match(e, '^(%d+):(%d+)$')
  return tonumber(a), tonumber(w)
end

-- A log written by Sluice <= 0.4 (a sorted set, members "id" or "id*w" scored by time) becomes a
-- list of the same entries, keeping its TTL; the extra-weight key means the same in both.
local function convert(k)
  local ttl = redis.call('PTTL', k)
  local old = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
  redis.call('DEL', k)
  local batch = {}
  for i = 1, #old, 2 do
    local w = tonumber(string.match(old[i], '%*(%d+)$') or '1')
    batch[#batch + 1] = w == 1 and old[i + 1] or (old[i + 1] .. ':' .. w)
    if #batch == 1000 then redis.call('RPUSH', k, unpack(batch)); batch = {} end
  end
  if #batch > 0 then redis.call('RPUSH', k, unpack(batch)) end
  if ttl > 0 and #old > 0 then redis.call('PEXPIRE', k, ttl) end
end

local kinds, windows, limits, bursts, shadows = {}, {}, {}, {}, {}
local used, oldest, extra, extra0, tats, tat0, perToken, pend, leases, loaded = {}, {}, {}, {}, {}, {}, {}, {}, {}, {}
local wkeys, logs = {}, false
for i = 1, nkeys do
  local b = 3 + 5 * (i - 1)
  windows[i], limits[i], kinds[i] = tonumber(ARGV[b]), tonumber(ARGV[b + 1]), ARGV[b + 2]
  bursts[i], shadows[i] = tonumber(ARGV[b + 3]), ARGV[b + 4] == '1'
  if kinds[i] == 'r' or kinds[i] == 't' then
    wkeys[#wkeys + 1] = KEYS[i] .. '#w'
    logs = true
  end
end
-- One EXISTS tells whether any log has weighted entries at all: only then per-key GETs.
local weighted = logs and redis.call('EXISTS', unpack(wkeys)) > 0

-- Prunes a log to its window and reads what is left: used, oldest; pending appends start empty.
local function loadLog(i)
  local k = KEYS[i]
  local horizon = now - windows[i]
  local ex = weighted and tonumber(redis.call('GET', k .. '#w') or '0') or 0
  extra0[i] = ex
  local len, first = nil, -1
  while true do
    local chunk = redis.pcall('LRANGE', k, 0, CHUNK - 1)
    if chunk.err then
      convert(k)
      chunk = redis.call('LRANGE', k, 0, CHUNK - 1)
    end
    local gone = 0
    for j = 1, #chunk do
      local ts, w = parse(chunk[j])
      if ts > horizon then first = ts; break end
      gone = gone + 1
      ex = ex - (w - 1)
    end
    if gone > 0 then redis.call('LTRIM', k, gone, -1) end
    if gone < #chunk or #chunk < CHUNK then
      if #chunk < CHUNK then len = #chunk - gone end
      break
    end
  end
  if not len then len = redis.call('LLEN', k) end
  if len == 0 then ex = 0 end
  extra[i] = ex
  used[i] = len + ex
  oldest[i] = first
  pend[i] = {}
end

local function loadLeases(i)
  local k = KEYS[i]
  redis.call('ZREMRANGEBYSCORE', k, '-inf', nowStr)
  used[i] = redis.call('ZCARD', k)
  oldest[i] = -1
  if used[i] > 0 then oldest[i] = tonumber(redis.call('ZRANGE', k, 0, 0, 'WITHSCORES')[2]) end
  leases[i] = {}
end

local function loadBucket(i)
  local T = limits[i] > 0 and windows[i] / limits[i] or math.huge
  perToken[i] = T
  tats[i] = math.max(tonumber(redis.call('GET', KEYS[i]) or '0'), now)
  tat0[i] = tats[i] -- as loaded: written back only when it moved
end

local function load(i)
  if loaded[i] then return end
  loaded[i] = true
  local kind = kinds[i]
  if kind == 'c' then loadLeases(i)
  elseif kind == 'b' or kind == 'B' then loadBucket(i)
  else loadLog(i) end
end

local out = {now}
local records = {}
local p = 3 + 5 * nkeys
for c = 1, nchecks do
  local id, leaseUs, rec, n = ARGV[p], tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2]), tonumber(ARGV[p + 3])
  p = p + 4
  local idx, ws, fits = {}, {}, {}
  local admitted = 1
  local at = #out + 1
  out[at] = 0
  for j = 1, n do
    local i, w = tonumber(ARGV[p]), tonumber(ARGV[p + 1])
    p = p + 2
    idx[j], ws[j] = i, w
    load(i)
    local kind = kinds[i]
    local u, o, f
    if kind == 'b' or kind == 'B' then
      local drained = (tats[i] - now) / perToken[i]
      u, o = math.ceil(drained - 1e-9), math.ceil(tats[i])
      f = limits[i] > 0 and drained + w <= bursts[i] + 1e-9
    else
      u, o = used[i], oldest[i]
      f = u + w <= limits[i]
    end
    out[#out + 1] = u
    out[#out + 1] = o
    fits[j] = f
    if not f and not shadows[i] then admitted = 0 end
  end
  out[at] = admitted
  if admitted == 1 then
    local expires = now + leaseUs
    local reserved, est = {}, 0
    for j = 1, n do
      local i, w = idx[j], ws[j]
      local kind = kinds[i]
      if fits[j] then -- (a shadow key that would have refused gets nothing)
        if kind == 'c' then
          used[i] = used[i] + 1
          local l = leases[i]
          l[#l + 1] = int(expires)
          l[#l + 1] = id
          if oldest[i] < 0 or expires < oldest[i] then oldest[i] = expires end
          reserved[#reserved + 1] = {KEYS[i], 'c'}
        elseif kind == 'b' or kind == 'B' then
          tats[i] = tats[i] + w * perToken[i]
          if kind == 'B' then reserved[#reserved + 1] = {KEYS[i], 'B', perToken[i]}; est = w end
        else
          used[i] = used[i] + w
          extra[i] = extra[i] + (w - 1)
          local q = pend[i]
          q[#q + 1] = w == 1 and nowStr or (nowStr .. ':' .. w)
          if oldest[i] < 0 then oldest[i] = now end
          if kind == 't' then reserved[#reserved + 1] = {KEYS[i], 't'}; est = w end
        end
      end
    end
    if rec > 0 then
      records[#records + 1] = {KEYS[rec], est, int(expires), cjson.encode(reserved), leaseUs}
    end
  end
end

-- Write back what the admitted checks added, once per key.
for i = 1, nkeys do
  if loaded[i] then
    local k, kind = KEYS[i], kinds[i]
    if kind == 'c' then
      if #leases[i] > 0 then
        redis.call('ZADD', k, unpack(leases[i]))
        local ttl = math.max(redis.call('PTTL', k), 0)
        local want = 0
        for j = 1, #leases[i], 2 do want = math.max(want, math.ceil((tonumber(leases[i][j]) - now) / 1000)) end
        if want > ttl then redis.call('PEXPIRE', k, int(want)) end
      end
    elseif kind == 'b' or kind == 'B' then
      if tats[i] ~= tat0[i] then
        redis.call('SET', k, string.format('%.3f', tats[i]), 'PX', int(math.max(1, math.ceil((tats[i] - now) / 1000))))
      end
    else
      local q = pend[i]
      local ttl
      if #q > 0 then
        for s = 1, #q, 4000 do redis.call('RPUSH', k, unpack(q, s, math.min(s + 3999, #q))) end
        ttl = math.ceil(windows[i] / 1000)
        redis.call('PEXPIRE', k, int(ttl))
      end
      if extra[i] ~= extra0[i] then
        if extra[i] == 0 then
          redis.call('DEL', k .. '#w')
        else
          ttl = ttl or redis.call('PTTL', k)
          if ttl > 0 then redis.call('SET', k .. '#w', extra[i], 'PX', int(ttl)) else redis.call('DEL', k .. '#w') end
        end
      end
    end
  end
end
for _, r in ipairs(records) do
  redis.call('HSET', r[1], 'at', nowStr, 'est', r[2], 'exp', r[3], 'keys', r[4])
  redis.call('PEXPIRE', r[1], int(math.ceil(r[5] / 1000)))
end
return out
