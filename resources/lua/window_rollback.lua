-- SPDX-License-Identifier: Apache-2.0
-- Sluice: takes back what window_check.lua added for a request in one Redis Cluster slot group,
-- when another group refused it (reserve-then-confirm, design §4) or its reservation record could
-- not be stored. After reservation_lib.lua.
-- KEYS: the group's keys. ARGV[1]: id, ARGV[2]: the group's `now` (when its entries were
-- written), then per key: weight, kind ('r', 't', 'c', 'b' or 'B'), and for a bucket its us per
-- token (its TAT goes back by weight * that).
-- A log loses one element of that time and weight, searched from the tail (it was just added;
-- entries of the same time and weight are interchangeable). The extra weight moves only when the
-- element was really there. Returns the number of entries removed.
local id, at = ARGV[1], ARGV[2]
local removed = 0
local now = clock()
for i = 1, #KEYS do
  local w, kind, T = tonumber(ARGV[3 * i]), ARGV[3 * i + 1], tonumber(ARGV[3 * i + 2])
  if kind == 'b' or kind == 'B' then
    give_back(KEYS[i], w * T, now)
    removed = removed + 1
  elseif kind == 'c' then
    removed = removed + redis.call('ZREM', KEYS[i], id)
  elseif redis.call('LREM', KEYS[i], -1, elem(at, w)) == 1 then
    removed = removed + 1
    add_extra(KEYS[i], -(w - 1))
  end
end
return removed
