-- SPDX-License-Identifier: Apache-2.0
-- Sluice: current usage of window keys, read-only (admin usage view and live charts).
-- KEYS: the window keys.  ARGV: per key window_us.
-- Returns {now_us, used_1, oldest_1, used_2, oldest_2, ...} (oldest = -1: empty).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function int(x) return string.format('%.0f', x) end
local out = {now}
for i = 1, #KEYS do
  local window = tonumber(ARGV[i])
  local first = redis.call('ZRANGEBYSCORE', KEYS[i], '(' .. int(now - window), '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  local used = redis.call('ZCOUNT', KEYS[i], '(' .. int(now - window), '+inf')
  -- weighted entries: a tokens key may have them even with no extra-weight key (they cancel out)
  if string.sub(KEYS[i], -7) == ':tokens' or redis.call('EXISTS', KEYS[i] .. '#w') == 1 then
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[i], '(' .. int(now - window), '+inf')) do
      used = used + tonumber(string.match(m, '%*(%d+)$') or '1') - 1
    end
  end
  out[2 * i] = used
  out[2 * i + 1] = first[2] and tonumber(first[2]) or -1
end
return out
