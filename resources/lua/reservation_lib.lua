-- SPDX-License-Identifier: Apache-2.0
-- Sluice: what completing and extending a reservation does to one key (design §10). Put in front
-- of reservation.lua and reservation_apply.lua when they are loaded (Redis scripts cannot call
-- each other). Elements, members and the extra-weight key follow window_check.lua.
local function int(x) return string.format('%.0f', x) end
-- A log element (window_check.lua): the entry's time, "<time>:<w>" when its weight w ~= 1.
local function elem(at, w)
  if w == 1 then return at end
  return at .. ':' .. w
end
local function timeOf(e) return tonumber(e) or tonumber(string.match(e, '^(%d+):')) end

-- The index of element `e` (time `at`) in a log, or nil: a binary search by time (the list is in
-- time order), then the entries of that same time; LPOS from the tail if the order was broken
-- (a backward step of Redis's clock).
local function find(key, at, e)
  local lo, hi = 0, redis.call('LLEN', key) - 1
  local t = tonumber(at)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if timeOf(redis.call('LINDEX', key, mid)) < t then lo = mid + 1 else hi = mid end
  end
  for _, v in ipairs(redis.call('LRANGE', key, lo, lo + 255)) do
    if v == e then return lo end
    if timeOf(v) ~= t then break end
    lo = lo + 1
  end
  return redis.call('LPOS', key, e, 'RANK', -1)
end

-- Moves a log's extra weight (sum of w - 1 over its entries) by `delta`; it lives as long as the log.
local function add_extra(key, delta)
  if delta == 0 then return end
  local wkey = key .. '#w'
  local extra = tonumber(redis.call('GET', wkey) or '0') + delta
  local ttl = redis.call('PTTL', key)
  if extra == 0 or ttl <= 0 then
    redis.call('DEL', wkey)
  else
    redis.call('SET', wkey, extra, 'PX', ttl)
  end
end

-- The entry of a reweighable log takes the actual weight in place (it keeps its time); the key's
-- extra weight moves by the difference. Nothing when it has left the window.
local function reweigh(key, at, est, actual)
  if actual == est then return end
  local i = find(key, at, elem(at, est))
  if not i then return end
  redis.call('LSET', key, i, elem(at, actual))
  add_extra(key, actual - est)
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

-- Applies `op` ('complete' or 'extend') to one key of a reservation. at: when its entry was
-- written (a log's), T: a bucket's us per token.
local function apply(op, key, kind, id, at, est, actual, now, leaseUs, T)
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
    reweigh(key, at, est, actual)
  end
end

-- Takes back what window_check.lua wrote for request `id` to one key: a log's element of time `at`
-- and weight `w` (searched from the tail: it is among the newest; entries of one time and weight
-- are interchangeable), a lease (by id), a bucket's w tokens. `at` '' (unknown: the admission's
-- reply never came) takes back leases only: a log entry or bucket charge of unknown time stays.
-- Returns 1 when something was taken back.
local function take_back(key, kind, id, at, w, T, now)
  if kind == 'c' then
    return redis.call('ZREM', key, id)
  end
  if at == '' then return 0 end
  if kind == 'b' or kind == 'B' then
    give_back(key, w * T, now)
    return 1
  end
  if redis.call('LREM', key, -1, elem(at, w)) == 1 then
    add_extra(key, -(w - 1))
    return 1
  end
  return 0
end

local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
