-- SPDX-License-Identifier: Apache-2.0
-- Sluice: current usage of window keys, read-only (admin usage view, live charts, a look without
-- charging). The rules are server/engine/windowrules.h's, as window_check.lua states them.
-- KEYS: the window keys.  ARGV: per key three values: its kind's code (server/engine/windowkind.cpp:
-- 'r', 't', 'c', 'b' or 'B'), its window in us (0 for leases), a bucket's us per token (else 0).
-- Returns {now_us, used_1, oldest_1, used_2, oldest_2, ...}: used = what the key holds (a bucket:
-- tokens drained, rounded up), oldest = its oldest counted entry, earliest lease expiry or
-- max(TAT, now) (-1: empty, or a bucket that is full).
-- A log is a list in time order (window_check.lua): the elements still in front of the window (not
-- pruned yet) are not counted; at most SCAN_CHUNKS chunks of them are read (a log that a burst left
-- is then counted whole for a moment: never a long call that stalls Redis).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function int(x) return string.format('%.0f', x) end
local CHUNK, SCAN_CHUNKS = 64, 64
local out = {now}
for i = 1, #KEYS do
  local k = KEYS[i]
  local b = 3 * (i - 1)
  local code, window, T = ARGV[b + 1], tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
  local used, oldest = 0, -1
  if code == 'b' or code == 'B' then
    local tat = tonumber(redis.call('GET', k) or '0')
    if tat > now then
      used = math.ceil((tat - now) / T - 1e-9)
      oldest = math.ceil(tat)
    end
  else
    local kind = redis.call('TYPE', k)['ok']
    if kind == 'list' then
      used = redis.call('LLEN', k) + tonumber(redis.call('GET', k .. '#w') or '0')
      local horizon, from, chunks = now - window, 0, 0
      while oldest < 0 and chunks < SCAN_CHUNKS do
        chunks = chunks + 1
        local chunk = redis.call('LRANGE', k, from, from + CHUNK - 1)
        for _, e in ipairs(chunk) do
          local ts = tonumber(e)
          local w = 1
          if not ts then
            local a, c = string.match(e, '^(%d+):(%d+)$')
            ts, w = tonumber(a), tonumber(c)
          end
          if ts > horizon then oldest = ts; break end
          used = used - w
        end
        if #chunk < CHUNK then break end
        from = from + CHUNK
      end
    elseif kind == 'zset' then
      -- leases (scored by expiry), or a log of the sorted-set layout of Sluice <= 0.4
      local lo = '(' .. int(now - window)
      used = redis.call('ZCOUNT', k, lo, '+inf')
      local first = redis.call('ZRANGEBYSCORE', k, lo, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
      oldest = first[2] and tonumber(first[2]) or -1
      if window > 0 then
        for _, m in ipairs(redis.call('ZRANGEBYSCORE', k, lo, '+inf')) do
          used = used + tonumber(string.match(m, '%*(%d+)$') or '1') - 1
        end
      end
    end
  end
  out[2 * i] = used
  out[2 * i + 1] = oldest
end
return out
