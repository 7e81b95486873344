-- SPDX-License-Identifier: Apache-2.0
-- Sluice: one atomic sliding-window-log check over every key of a request (design §4).
-- KEYS: the window keys, most specific policy first.
-- ARGV[1]: member (unique across instances; it carries its weight as a "*<w>" suffix when
-- w ~= 1), ARGV[2]: cost (the entry's weight), ARGV[3]: which oldest entries to return
-- ("all", or "decision": only those the decision needs: the primary key when admitted, the
-- violated keys when refused), then per key: window_us, limit.
-- An entry counts while now - window < t <= now. The request is admitted only if, for every key,
-- used + cost <= limit; only then is the member added to every key (and each key's TTL set to
-- its window). A refused request writes nothing.
-- Weights: used = ZCARD + the key's "extra weight" (sum of w - 1 over its entries), kept in
-- <key>#w (same hash tag, so same Cluster slot) only while some entry weighs more than 1; with
-- unit weights (every policy counts requests today) no such key exists and one EXISTS per check
-- covers them all.
-- Returns {now_us, admitted (0/1), used_1, oldest_1, used_2, oldest_2, ...}
-- (oldest = -1: empty, or not asked for).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
-- Scores go to Redis as integer strings: tostring() of a number this large would round it.
local function int(x) return string.format('%.0f', x) end
local member = ARGV[1]
local cost = tonumber(ARGV[2])
local allOldest = ARGV[3] == 'all'
local n = #KEYS
local used, limits, windows = {}, {}, {}
local admitted = 1
-- One EXISTS tells whether any key has weighted entries at all (almost never): then per-key GETs.
local wkeys = {}
for i = 1, n do wkeys[i] = KEYS[i] .. '#w' end
local weighted = redis.call('EXISTS', unpack(wkeys)) > 0
for i = 1, n do
  local window = tonumber(ARGV[2 + 2 * i])
  local limit = tonumber(ARGV[3 + 2 * i])
  windows[i], limits[i] = window, limit
  local horizon = int(now - window)
  local wkey = wkeys[i]
  local extra = weighted and tonumber(redis.call('GET', wkey) or '0') or 0
  if extra > 0 then
    -- subtract the extra weight of the entries about to leave
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[i], '-inf', horizon)) do
      local w = tonumber(string.match(m, '%*(%d+)$') or '1')
      extra = extra - (w - 1)
    end
    if extra > 0 then redis.call('SET', wkey, extra, 'KEEPTTL') else redis.call('DEL', wkey); extra = 0 end
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', horizon)
  used[i] = redis.call('ZCARD', KEYS[i]) + extra
  if used[i] + cost > limit then admitted = 0 end
end
-- Which keys' oldest entry the decision needs.
local want = {}
if allOldest then
  for i = 1, n do want[i] = true end
elseif admitted == 1 then
  local primary, headroom = 0, nil
  for i = 1, n do
    local h = limits[i] - used[i] - cost
    if headroom == nil or h < headroom then primary, headroom = i, h end
  end
  if primary > 0 then want[primary] = true end
else
  for i = 1, n do if used[i] + cost > limits[i] then want[i] = true end end
end
local out = {now, admitted}
for i = 1, n do
  local oldest = -1
  if want[i] and used[i] > 0 then
    oldest = tonumber(redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')[2])
  end
  out[1 + 2 * i] = used[i]
  out[2 + 2 * i] = oldest
end
if admitted == 1 then
  for i = 1, n do
    redis.call('ZADD', KEYS[i], int(now), member)
    redis.call('PEXPIRE', KEYS[i], int(math.ceil(windows[i] / 1000)))
    if cost > 1 then
      redis.call('INCRBY', KEYS[i] .. '#w', cost - 1)
      redis.call('PEXPIRE', KEYS[i] .. '#w', int(math.ceil(windows[i] / 1000)))
    end
  end
end
return out
