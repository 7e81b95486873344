-- SPDX-License-Identifier: Apache-2.0
-- Sluice: takes back what window_check.lua added for one request: in one Redis Cluster slot group,
-- when another group refused it (reserve-then-confirm, design §4) or its reservation record could
-- not be stored; or on any store, when the call that made it had timed out (its caller was told
-- "unavailable") and ran after all. After reservation_lib.lua.
-- KEYS: the keys written (ARGV[3] of them), then optionally the request's reservation record (deleted).
-- ARGV[1]: id, ARGV[2]: the call's `now` (when its entries were written; '' when the call's reply
-- never came: leases only, see take_back), ARGV[3]: number of window keys, then per key: weight,
-- kind ('r', 't', 'c', 'b' or 'B'), and for a bucket its us per token.
-- Returns the number of keys something was taken back from (0 when it was taken back before).
local id, at, n = ARGV[1], ARGV[2], tonumber(ARGV[3])
if #KEYS == 0 then return 0 end
-- Once per request and key group: a take-back sent again (its first try's answer was lost) must
-- not take back a second entry of the same time, nor refund a bucket twice. The mark lives an hour
-- (a compensation is given up after 15 minutes) in KEYS[1]'s slot. It comes first: a script that
-- failed half way is not run again (at most once: what was not taken back stays charged, the safe
-- side).
if not redis.call('SET', KEYS[1] .. '#tb:' .. id, '1', 'NX', 'PX', 3600000) then return 0 end
local removed = 0
local now = clock()
for i = 1, n do
  local b = 4 + 3 * (i - 1)
  removed = removed + take_back(KEYS[i], ARGV[b + 1], id, at, tonumber(ARGV[b]), tonumber(ARGV[b + 2]), now)
end
if #KEYS > n then redis.call('DEL', KEYS[n + 1]) end
return removed
