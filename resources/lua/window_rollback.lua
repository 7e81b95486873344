-- SPDX-License-Identifier: Apache-2.0
-- Sluice: takes back what window_check.lua added for a request in one Redis Cluster slot group,
-- when another group refused it (reserve-then-confirm, design §4) or its reservation record could
-- not be stored. After reservation_lib.lua.
-- KEYS: the group's keys. ARGV[1]: id, then per key: weight, kind ('r', 't', 'c', 'b' or 'B'),
-- and for a bucket its us per token (its TAT goes back by weight * that).
-- The extra weight moves only when the member was really there (so a key that expired meanwhile
-- gets no extra-weight key without a TTL). Returns the number of members removed.
local id = ARGV[1]
local removed = 0
local now = clock()
for i = 1, #KEYS do
  local w, kind, T = tonumber(ARGV[3 * i - 1]), ARGV[3 * i], tonumber(ARGV[3 * i + 1])
  if kind == 'b' or kind == 'B' then
    give_back(KEYS[i], w * T, now)
    removed = removed + 1
  elseif kind == 'c' then
    removed = removed + redis.call('ZREM', KEYS[i], id)
  elseif redis.call('ZREM', KEYS[i], member(id, w)) == 1 then
    removed = removed + 1
    if w ~= 1 then
      local wkey = KEYS[i] .. '#w'
      local extra = tonumber(redis.call('GET', wkey) or '0') - (w - 1)
      if extra == 0 then
        redis.call('DEL', wkey)
      else
        redis.call('SET', wkey, extra)
        local ttl = redis.call('PTTL', KEYS[i])
        if ttl > 0 then redis.call('PEXPIRE', wkey, ttl) end
      end
    end
  end
end
return removed
