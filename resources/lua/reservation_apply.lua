-- Sluice: complete or extend a reservation in one Redis Cluster slot group (design §10), after
-- reservation.lua claimed or renewed its record. After reservation_lib.lua.
-- KEYS: the group's keys. ARGV[1]: 'complete' or 'extend', ARGV[2]: id, ARGV[3]: estimate,
-- ARGV[4]: actual tokens ('' keeps the estimate), ARGV[5]: lease time in us, then per key its
-- kind ('t', 'B' or 'c') and a bucket's us per token (0 otherwise). Returns the number of keys.
local op, id, est = ARGV[1], ARGV[2], tonumber(ARGV[3])
local actual = ARGV[4] ~= '' and tonumber(ARGV[4]) or nil
local leaseUs = tonumber(ARGV[5])
local now = clock()
for i = 1, #KEYS do
  apply(op, KEYS[i], ARGV[4 + 2 * i], id, est, actual, now, leaseUs, tonumber(ARGV[5 + 2 * i]))
end
return #KEYS
