-- Sluice: complete or extend a reservation in one Redis Cluster slot group (design §10), after
-- reservation.lua claimed or renewed its record. After reservation_lib.lua.
-- KEYS: the group's keys. ARGV[1]: 'complete' or 'extend', ARGV[2]: id, ARGV[3]: estimate,
-- ARGV[4]: actual tokens ('' keeps the estimate), ARGV[5]: lease time in us (complete: what is
-- left of it, how long the group's done-mark lives), then per key its
-- kind ('t', 'B' or 'c'), a bucket's us per token (0 otherwise) and when its entry was written
-- (a log's; its node's clock). Returns the number of keys changed (0: changed before).
local op, id, est = ARGV[1], ARGV[2], tonumber(ARGV[3])
local actual = ARGV[4] ~= '' and tonumber(ARGV[4]) or nil
local leaseUs = tonumber(ARGV[5])
local now = clock()
-- A completion changes a group once (a bucket's give-back would refund twice): a retry after a
-- completion that failed half way finds the groups it already changed marked, for the lease time.
if op == 'complete' then
  local mark = KEYS[1] .. '#done:' .. id -- (KEYS[1]'s hash tag: the group's slot)
  if not redis.call('SET', mark, '1', 'NX', 'PX', int(math.max(1000, math.ceil(leaseUs / 1000)))) then return 0 end
end
for i = 1, #KEYS do
  apply(op, KEYS[i], ARGV[3 + 3 * i], id, ARGV[5 + 3 * i], est, actual, now, leaseUs, tonumber(ARGV[4 + 3 * i]))
end
return #KEYS
