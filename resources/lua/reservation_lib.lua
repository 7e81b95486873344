-- SPDX-License-Identifier: Apache-2.0
-- Sluice: what completing and extending a reservation does to one key (design §10). Put in front
-- of reservation.lua and reservation_apply.lua when they are loaded (Redis scripts cannot call
-- each other). Members and the extra-weight key follow window_check.lua.
local function int(x) return string.format('%.0f', x) end
local function member(id, w)
  if w == 1 then return id end
  return id .. '*' .. w
end

-- The entry of a reweighable key takes the actual weight in place: same score (its admission
-- time), new member; the key's extra weight moves by the difference. Nothing when it has left.
local function reweigh(key, id, est, actual)
  if actual == est then return end
  local old = member(id, est)
  local score = redis.call('ZSCORE', key, old)
  if not score then return end
  redis.call('ZREM', key, old)
  redis.call('ZADD', key, score, member(id, actual))
  local wkey = key .. '#w'
  local extra = tonumber(redis.call('GET', wkey) or '0') + (actual - est)
  if extra == 0 then
    redis.call('DEL', wkey)
  else
    redis.call('SET', wkey, extra)
    local ttl = redis.call('PTTL', key)
    if ttl > 0 then redis.call('PEXPIRE', wkey, ttl) end
  end
end

-- A token bucket's TAT goes back by `us` (forward when negative); a TAT in the past is a full
-- bucket, so the key goes. The TTL follows the TAT.
local function give_back(key, us, now)
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat <= now then return end
  tat = tat - us
  if tat <= now then
    redis.call('DEL', key)
  else
    redis.call('SET', key, string.format('%.3f', tat), 'PX', int(math.max(1, math.ceil((tat - now) / 1000))))
  end
end

-- Applies `op` ('complete' or 'extend') to one key of a reservation. T: a bucket's us per token.
local function apply(op, key, kind, id, est, actual, now, leaseUs, T)
  if kind == 'B' then
    if op == 'complete' and actual then give_back(key, (est - actual) * T, now) end
  elseif kind == 'c' then
    if op == 'complete' then
      redis.call('ZREM', key, id)
    else
      local score = redis.call('ZSCORE', key, id)
      if score and tonumber(score) > now then
        redis.call('ZADD', key, 'XX', int(now + leaseUs), id)
        if redis.call('PTTL', key) < math.ceil(leaseUs / 1000) then
          redis.call('PEXPIRE', key, int(math.ceil(leaseUs / 1000)))
        end
      end
    end
  elseif kind == 't' and op == 'complete' and actual then
    reweigh(key, id, est, actual)
  end
end

local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
