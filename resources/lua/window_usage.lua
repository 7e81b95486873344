-- SPDX-License-Identifier: Apache-2.0
-- Sluice: current usage of window keys, read-only (admin usage view and live charts).
-- KEYS: the window keys.  ARGV: per key window_us (0 for a lease key).
-- Returns {now_us, used_1, oldest_1, used_2, oldest_2, ...} (oldest = -1: empty).
-- A log is a list in time order (window_check.lua): the elements still in front of the window
-- (not yet pruned) are skipped; a lease key is a sorted set scored by expiry; a bucket a string.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function int(x) return string.format('%.0f', x) end
local out = {now}
for i = 1, #KEYS do
  local k, window = KEYS[i], tonumber(ARGV[i])
  local kind = redis.call('TYPE', k)['ok']
  local used, oldest = 0, -1
  if kind == 'list' then
    used = redis.call('LLEN', k) + tonumber(redis.call('GET', k .. '#w') or '0')
    local horizon, from = now - window, 0
    while oldest < 0 do
      local chunk = redis.call('LRANGE', k, from, from + 63)
      for _, e in ipairs(chunk) do
        local ts = tonumber(e)
        local w = 1
        if not ts then
          local a, b = string.match(e, '^(%d+):(%d+)$')
          ts, w = tonumber(a), tonumber(b)
        end
        if ts > horizon then oldest = ts; break end
        used = used - w
      end
      if #chunk < 64 then break end
      from = from + 64
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
  out[2 * i] = used
  out[2 * i + 1] = oldest
end
return out
