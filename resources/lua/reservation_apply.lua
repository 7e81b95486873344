-- Sluice: complete or extend a reservation in one Redis Cluster slot group (design §10), after
-- reservation.lua claimed or renewed its record. After reservation_lib.lua.
-- KEYS: the group's keys. ARGV[1]: 'complete' or 'extend', ARGV[2]: id, ARGV[3]: estimate,
-- ARGV[4]: actual tokens ('' keeps the estimate), ARGV[5]: lease time in us, then per key its
-- kind ('t', 'B' or 'c'), a bucket's us per token (0 otherwise) and when its entry was written
-- (a log's; its node's clock). Returns the number of keys.
local op, id, est = ARGV[1], ARGV[2], tonumber(ARGV[3])
local actual = ARGV[4] ~= '' and tonumber(ARGV[4]) or nil
local leaseUs = tonumber(ARGV[5])
local now = clock()
for i = 1, #KEYS do
  apply(op, KEYS[i], ARGV[3 + 3 * i], id, ARGV[5 + 3 * i], est, actual, now, leaseUs, tonumber(ARGV[4 + 3 * i]))
end
return #KEYS
