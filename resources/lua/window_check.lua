-- SPDX-License-Identifier: Apache-2.0
-- Sluice: a batch of checks, decided in order in one atomic step (design §4, §10, §11): each
-- check sees the entries of those before it, exactly as if they had come one by one; the per-call
-- cost (EVALSHA, TIME, pruning the shared keys) is paid once per batch.
-- KEYS: the distinct window keys of the batch (ARGV[1] of them), then the reservation records to
-- write (single-node Redis; the Cluster store writes its records itself).
-- ARGV[1]: number of window keys, ARGV[2]: number of checks, ARGV[3]: the most entries a log or
-- lease key may hold (kMaxLogEntries: a request that would add one more does not fit), then per
-- window key three values: window_us, limit, and its kind code followed by a bucket's burst when
-- that is not 0 and by '!' when the key is a shadow (never refuses; written only where it fits):
-- 'r', 'b20', 'r!'; then per check its number of keys n, or -n when it has a lease key or a record
-- (n >= 1) followed by its id (unique across instances), lease time in us and record (index into
-- KEYS, 0: none); then per key its index (1-based into KEYS) when its weight is 1, else the index
-- negated and the weight: '3' or '-3', '250'. (Each argument costs Redis ~900 instructions to
-- parse and hand to Lua: the common case is written short.)
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
-- that is not a shadow fits; only then is it added (to shadow keys only where they fit), a log
-- key (and its extra weight) expiring when its newest entry leaves the window (now + window,
-- rounded up to Redis' milliseconds), a lease key after its lease, a bucket when it is full again. A refused check
-- writes nothing. A check whose record already exists is refused (a cancellation, reservation.lua).
-- The record names every key the check was written to (the requests ones too: a cancel takes
-- everything back; completing and extending change only the 't', 'B' and 'c' ones).
-- Pruning reads at most PRUNE_MAX entries of a weighted log per call (a burst leaving the window
-- is pruned over several calls, counted meanwhile: under-admission for a moment, never a long
-- call that stalls Redis); a log of requests (all of weight 1) is cut with a search from its front and
-- one LTRIM.
-- The rules (what fits, what a key holds) are server/engine/windowrules.h's, stated here again
-- because Redis must decide atomically; the kind codes are server/engine/windowkind.h's table.
-- Returns {now_us, then per check of n keys: admitted + 2 * fits + 2^(n+1) * full, used_1,
-- oldest_1, used_2, oldest_2, ...}: admitted 0 or 1; fits bit j-1: the check fits key j (an admitted
-- check was written to exactly these); full bit j-1: key j holds the most entries it may (one
-- number a check: each element of a reply costs Redis ~570 instructions); used/oldest as the check
-- found them (after the checks before it); oldest = -1 when empty; for a lease key the earliest
-- expiry; for a bucket max(TAT, now), used its tokens drained (rounded up). A check has at most 26
-- keys (its 2n + 1 bits are exact in a double).
-- (globals looked up once: a local is an array slot, a global a table lookup)
local call, pcall_, tonumber, unpack = redis.call, redis.pcall, tonumber, unpack
local KEYS, ARGV = KEYS, ARGV
local ceil, max, format, match = math.ceil, math.max, string.format, string.match
local t = call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
-- Scores and times go to Redis as integer strings: tostring() of a number this large would round it.
local function int(x) return format('%.0f', x) end
local nowStr = int(now)
local nkeys, nchecks, maxEntries = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
-- The arguments' numbers repeat (windows, limits, key indices, weights of 1) and tonumber() is
-- strtod, costly for long digits: each distinct text is converted once per call
-- (`numOf[s] or num(s)`: a table look-up in the common case, no call).
local numOf = {}
local function num(s)
  local v = tonumber(s)
  numOf[s] = v
  return v
end
local FIRST_CHUNK, CHUNK, PRUNE_MAX = 8, 64, 4096
-- A chunk's last index as text (a number given to redis.call is printed with %.17g each time).
local function lastOf(n)
  return n == 64 and '63' or n == 8 and '7' or n == 16 and '15' or n == 32 and '31' or tostring(n - 1)
end
-- When a log written now may go (now + its window, in ms, for PEXPIREAT: Redis >= 7.0 rewrites
-- each PEXPIRE into one, a conversion per key), as a string: made once per window, not per key.
local endOf = {}
local function windowEnd(w)
  local s = endOf[w]
  if not s then s = int(ceil((now + w) / 1000)); endOf[w] = s end
  return s
end

-- An element's time and weight.
local function parse(e)
  local ts = tonumber(e)
  if ts then return ts, 1 end
  local a, w = match(e, '^(%d+):(%d+)$')
  return tonumber(a), tonumber(w)
end

-- A log written by Sluice <= 0.4 (a sorted set, members "id" or "id*w" scored by time) becomes a
-- list of the same entries, keeping its TTL; the extra-weight key means the same in both.
local function convert(k)
  local ttl = call('PTTL', k)
  local old = call('ZRANGE', k, 0, -1, 'WITHSCORES')
  call('DEL', k)
  local batch = {}
  for i = 1, #old, 2 do
    local w = tonumber(match(old[i], '%*(%d+)$') or '1')
    batch[#batch + 1] = w == 1 and old[i + 1] or (old[i + 1] .. ':' .. w)
    if #batch == 1000 then call('RPUSH', k, unpack(batch)); batch = {} end
  end
  if #batch > 0 then call('RPUSH', k, unpack(batch)) end
  if ttl > 0 and #old > 0 then call('PEXPIRE', k, ttl) end
end

-- Each key's policy and state: one record per key, an array made at its full size by one
-- constructor once the key is loaded (a table grown element by element is reallocated each time
-- it doubles; a record of named fields is a hash, built field by field: ~2.5 times the cost; and
-- each field set costs Redis' Lua ~150 instructions).
local KEY, WINDOW, LIMIT, KIND, BURST, SHADOW, OLDEST, LEN, LEN0 = 1, 2, 3, 4, 5, 6, 7, 8, 9
local EXTRA, EXTRA0, PEND, LEASES, TAT, TAT0, PER_TOKEN = 10, 11, 12, 13, 14, 15, 16
-- LEN: entries held by a log or lease key (LEN0 as loaded); EXTRA: a log's extra weight (EXTRA0
-- as loaded; 0 for a lease key): what a log or lease key holds is LEN + EXTRA; PEND: the entries of
-- weights other than 1 a log gets (false: none; those of weight 1 are LEN - LEN0 - #PEND, all of
-- time now: pushed from one list of nowStr shared by every key); LEASES: a lease key's to add;
-- TAT: a bucket's (TAT0 as loaded: written back only when it moved), PER_TOKEN its us per token.
-- A record ends with the last field its kind has.
-- (A log's kind code is 'r', 't', 'r!' or 't!': it has no burst.)
local wkeys
for i = 1, nkeys do
  local kind = ARGV[3 + 3 * i]
  if kind == 'r' or kind == 't' or kind == 'r!' or kind == 't!' then
    wkeys = wkeys or {}
    wkeys[#wkeys + 1] = KEYS[i] .. '#w'
  end
end
-- One EXISTS tells whether any log has weighted entries at all: only then per-key GETs.
local weighted = false
for s = 1, wkeys and #wkeys or 0, 1000 do -- (unpack has a limit of its own)
  if call('EXISTS', unpack(wkeys, s, math.min(s + 999, #wkeys))) > 0 then weighted = true; break end
end

-- Prunes a log to its window and reads what is left: its oldest entry, entries, extra weight now
-- and as stored.
-- Its first element alone says whether anything leaves (usually nothing does): only then are
-- the leaving ones read, a chunk at a time, for their weights.
local function loadLog(k, window, kind)
  local horizon = now - window
  local ex = weighted and tonumber(call('GET', k .. '#w') or '0') or 0
  local extra0 = ex
  local head = pcall_('LINDEX', k, '0')
  if type(head) == 'table' and head.err then
    convert(k)
    head = call('LINDEX', k, '0')
  end
  local first, len = -1, 0
  if head then
    first = parse(head)
    if first > horizon then
      len = call('LLEN', k)
    elseif kind == 'r' and ex == 0 then
      -- A log of requests: every entry weighs 1 (a tokens log's weights may cancel out in its
      -- extra weight: it is read), so what leaves need not be read, only where the window starts.
      -- The first element inside the window (the list is in time order): element lo is out,
      -- element hi in (hi = len: past the end, all out). Under steady traffic a few elements
      -- leave per call from a long log, and LINDEX walks the list node by node: probe
      -- 1, 3, 7, … from the front first, then halve between the last two probes (~2 log2(gone)
      -- reads near the head, not log2(len) reads across the list).
      -- When the probes reach the end, the last element says whether anything is left at all.
      len = call('LLEN', k)
      local lo, hi, hiTs, step = 0, len, -1, 1
      while true do
        local probe = lo + step
        if probe >= len - 1 then
          local ts = parse(call('LINDEX', k, '-1'))
          if ts > horizon then hi, hiTs = len - 1, ts else lo = len - 1 end -- (else: all out)
          break
        end
        local ts = parse(call('LINDEX', k, probe))
        if ts > horizon then hi, hiTs = probe, ts; break end
        lo, step = probe, step * 2
      end
      while hi - lo > 1 do
        local mid = math.floor((lo + hi) / 2)
        local ts = parse(call('LINDEX', k, mid))
        if ts > horizon then hi, hiTs = mid, ts else lo = mid end
      end
      if hi == len then
        call('UNLINK', k)
        len, first = 0, -1
      else
        call('LTRIM', k, hi, '-1')
        len, first = len - hi, hiTs
      end
    else
      -- The leaving entries are read a chunk at a time for their weights, the first chunk small
      -- (under steady traffic a few leave per call: each element read is a Lua string made),
      -- each next one twice the last, up to CHUNK.
      local pruned, size = 0, FIRST_CHUNK
      while first >= 0 and first <= horizon and pruned < PRUNE_MAX do
        local n = math.min(size, PRUNE_MAX - pruned)
        local chunk = call('LRANGE', k, '0', lastOf(n))
        local gone, after = 0, -1
        for j = 1, #chunk do
          local ts, w = parse(chunk[j])
          if ts > horizon then after = ts; break end
          gone = gone + 1
          ex = ex - (w - 1)
        end
        call('LTRIM', k, gone, '-1')
        pruned = pruned + gone
        if after >= 0 then first = after        -- the oldest entry left
        elseif #chunk < n then first = -1        -- all gone
        else first = horizon end                 -- a whole chunk gone: look again
        size = math.min(size * 2, CHUNK)
      end
      if first >= 0 and first <= horizon then -- (left for the next call; the list may be empty now)
        local h = call('LINDEX', k, '0')
        first = h and parse(h) or -1
      end
      len = first < 0 and 0 or call('LLEN', k)
    end
  end
  if len == 0 then ex = 0 end
  return first, len, ex, extra0
end

-- A lease key's leases still held: their count and the earliest expiry.
local function loadLeases(k)
  call('ZREMRANGEBYSCORE', k, '-inf', nowStr)
  local n = call('ZCARD', k)
  if n == 0 then return -1, 0 end
  return tonumber(call('ZRANGE', k, '0', '0', 'WITHSCORES')[2]), n
end

-- Every key is loaded first (each is some check's: the batcher sends no other), its record made
-- with what it holds.
local K = {}
for i = 1, nkeys do
  local b = 1 + 3 * i
  local a1, a2, kind = ARGV[b], ARGV[b + 1], ARGV[b + 2]
  local window, limit, burst, shadow = numOf[a1] or num(a1), numOf[a2] or num(a2), 0, false
  if #kind > 1 then
    local c, bu, sh = match(kind, '^(%a)(-?%d*)(!?)$')
    -- (a log's code has no burst: its extra weight was asked for by its whole code above)
    if bu ~= '' and c ~= 'b' and c ~= 'B' then error('a burst for a key of kind ' .. tostring(c)) end
    kind, burst, shadow = c, tonumber(bu) or 0, sh == '!'
  end
  local k = KEYS[i]
  if kind == 'r' or kind == 't' then
    local oldest, len, ex, ex0 = loadLog(k, window, kind)
    K[i] = {k, window, limit, kind, burst, shadow, oldest, len, len, ex, ex0, false}
  elseif kind == 'c' then
    local oldest, n = loadLeases(k)
    K[i] = {k, window, limit, kind, burst, shadow, oldest, n, n, 0, 0, false, {}}
  else
    local tat = max(tonumber(call('GET', k) or '0'), now)
    K[i] = {k, window, limit, kind, burst, shadow, -1, 0, 0, 0, 0, false, false, tat, tat,
            limit > 0 and window / limit or math.huge}
  end
end

local records
local p = 4 + 3 * nkeys
-- The reply made at its full size at once (grown element by element, it is reallocated and
-- counted again at each doubling): 1 per check and 2 per key of a check, fewer than 1 per
-- check and 2 per argument left; the slots left over stay nil, past the end of the reply.
-- (Up to 4,000: unpack's limit is Lua's C stack.)
local size = nchecks + 2 * (#ARGV - p + 1)
local out, o = size <= 4000 and {now, unpack({}, 1, size)} or {now}, 1
for c = 1, nchecks do
  local a0 = ARGV[p]
  local n, id, leaseUs, rec = numOf[a0] or num(a0), nil, 0, 0
  if n < 0 then -- (it has a lease key or a record: its id, lease time and record follow)
    local a1, a2 = ARGV[p + 2], ARGV[p + 3]
    n, id, leaseUs, rec = -n, ARGV[p + 1], numOf[a1] or num(a1), numOf[a2] or num(a2)
    p = p + 4
  else
    p = p + 1
  end
  local p0 = p -- (its keys are read again if it is admitted)
  local admitted = 1
  o = o + 1
  local at = o
  local fitsMask, fullMask, jbit = 0, 0, 1 -- jbit: 2^(j-1)
  for j = 1, n do
    local a = ARGV[p]
    local i, w = numOf[a] or num(a), 1
    if i < 0 then
      local b = ARGV[p + 1]
      i, w = -i, numOf[b] or num(b)
      p = p + 2
    else
      p = p + 1
    end
    local s = K[i]
    local kind = s[KIND]
    local u, old, f
    if kind == 'b' or kind == 'B' then
      local tat = s[TAT]
      local drained = (tat - now) / s[PER_TOKEN]
      u, old = ceil(drained - 1e-9), ceil(tat)
      f = s[LIMIT] > 0 and drained + w <= s[BURST] + 1e-9
    else
      local len = s[LEN]
      u, old = len + s[EXTRA], s[OLDEST]
      f = u + w <= s[LIMIT]
      if len >= maxEntries then
        f = false
        fullMask = fullMask + jbit
      end
    end
    out[o + 1], out[o + 2] = u, old
    o = o + 2
    if f then fitsMask = fitsMask + jbit
    elseif not s[SHADOW] then admitted = 0 end
    jbit = jbit * 2
  end
  -- A record that exists before its check ran is a cancellation (reservation.lua 'cancel': the
  -- call was given up for lost and taken back before Redis ran it): refused, nothing written.
  if admitted == 1 and rec > 0 and call('EXISTS', KEYS[rec]) == 1 then admitted = 0 end
  out[at] = admitted + 2 * fitsMask + 2 * jbit * fullMask -- (jbit: 2^n now)
  if admitted == 1 then
    local expires = now + leaseUs
    local reserved, est = nil, 0
    if rec > 0 then reserved = {} end
    p, jbit = p0, 1
    for j = 1, n do
      local i, w = numOf[ARGV[p]], 1 -- (each text was converted above)
      if i < 0 then
        i, w = -i, numOf[ARGV[p + 1]]
        p = p + 2
      else
        p = p + 1
      end
      if fitsMask % (jbit + jbit) >= jbit then -- (a shadow key that would have refused gets nothing)
        local s = K[i]
        local kind = s[KIND]
        if kind == 'r' or kind == 't' then
          s[LEN] = s[LEN] + 1
          if w ~= 1 then
            s[EXTRA] = s[EXTRA] + (w - 1)
            local q = s[PEND]
            if not q then q = {}; s[PEND] = q end
            q[#q + 1] = nowStr .. ':' .. w
          end
          if s[OLDEST] < 0 then s[OLDEST] = now end
          if kind == 't' then est = w; if reserved then reserved[#reserved + 1] = {s[KEY], 't'} end
          elseif reserved then reserved[#reserved + 1] = {s[KEY], 'r'} end -- (for a cancel only)
        elseif kind == 'c' then
          s[LEN] = s[LEN] + 1
          local l = s[LEASES]
          l[#l + 1] = int(expires)
          l[#l + 1] = id
          if s[OLDEST] < 0 or expires < s[OLDEST] then s[OLDEST] = expires end
          if reserved then reserved[#reserved + 1] = {s[KEY], 'c'} end
        else
          s[TAT] = s[TAT] + w * s[PER_TOKEN]
          if kind == 'B' then est = w; if reserved then reserved[#reserved + 1] = {s[KEY], 'B', s[PER_TOKEN]} end
          elseif reserved then reserved[#reserved + 1] = {s[KEY], 'b', s[PER_TOKEN]} end -- (for a cancel only)
        end
      end
      jbit = jbit * 2
    end
    if rec > 0 then
      records = records or {}
      records[#records + 1] = {KEYS[rec], est, int(expires), cjson.encode(reserved), leaseUs}
    end
  end
end

-- Write back what the admitted checks added, once per key.
local nows = {}
for i = 1, nkeys do
  local s = K[i]
  local k, kind = s[KEY], s[KIND]
  if kind == 'c' then
    local l = s[LEASES]
    if #l > 0 then
      call('ZADD', k, unpack(l))
      local ttl = max(call('PTTL', k), 0)
      local want = 0
      for j = 1, #l, 2 do want = max(want, ceil((tonumber(l[j]) - now) / 1000)) end
      if want > ttl then call('PEXPIRE', k, int(want)) end
    end
  elseif kind == 'b' or kind == 'B' then
    local tat = s[TAT]
    if tat ~= s[TAT0] then
      call('SET', k, format('%.3f', tat), 'PX', int(max(1, ceil((tat - now) / 1000))))
    end
  else
    local q = s[PEND]
    local nw = q and #q or 0
    local n1 = s[LEN] - s[LEN0] - nw
    local nq = n1 + nw
    if nq > 0 then
      if q then for j = 1, n1 do q[#q + 1] = nowStr end -- (rare: weighted entries too)
      else
        q = nows
        for j = #q + 1, n1 do q[j] = nowStr end
      end
      if nq <= 4000 then call('RPUSH', k, unpack(q, 1, nq))
      else for b = 1, nq, 4000 do call('RPUSH', k, unpack(q, b, math.min(b + 3999, nq))) end end
      call('PEXPIREAT', k, windowEnd(s[WINDOW]))
    end
    -- The extra weight lives exactly as long as its log: rewritten when it changed, and its
    -- expiry renewed with the log's (a log outliving its extra weight would undercount).
    local ex = s[EXTRA]
    if ex ~= s[EXTRA0] or (nq > 0 and ex ~= 0) then
      if ex == 0 then
        call('DEL', k .. '#w')
      elseif nq > 0 then
        call('SET', k .. '#w', ex) -- (expiring with the log, at the same moment)
        call('PEXPIREAT', k .. '#w', windowEnd(s[WINDOW]))
      else
        local ttl = call('PTTL', k)
        if ttl > 0 then call('SET', k .. '#w', ex, 'PX', ttl) else call('DEL', k .. '#w') end
      end
    end
  end
end
if records then
  for _, r in ipairs(records) do
    call('HSET', r[1], 'at', nowStr, 'est', r[2], 'exp', r[3], 'keys', r[4])
    call('PEXPIRE', r[1], int(ceil(r[5] / 1000)))
  end
end
return out
