-- SPDX-License-Identifier: Apache-2.0
-- Sluice: one step of a GPU pool's load controller, atomic, shared by every instance of a fleet.
-- The rule is server/engine/poolrules.h's (pool::step), stated here the same way; change both.
-- KEYS[1]: the pool's hash (sluice:{pool:<name>}): f factor, step (ms of the last step), q queue,
--          kv KV cache, sig (ms the newest reading was taken), src its source.
-- ARGV: queue, kvCache (-1: unknown), ageMs (-1: this instance read nothing), source,
--       queueThreshold, kvCacheThreshold, staleMs, decrease, increase, minFactor, maxFactor, stepMs.
-- Returns strings {factor, saturation, queue, kvCache, signalAgeMs (-1: none), source, stale (1/0)}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function num(x) return string.format('%.17g', x) end
local q, kv, age, src = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local qT, kvT, staleMs = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local dec, inc, minF, maxF, stepMs = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])

local r = redis.call('HMGET', KEYS[1], 'f', 'step', 'q', 'kv', 'sig', 'src')
local factor = tonumber(r[1] or '1')
local stepAt = tonumber(r[2] or '-1')
local rq, rkv, sig, rsrc = tonumber(r[3] or '-1'), tonumber(r[4] or '-1'), tonumber(r[5] or '-1'), r[6] or ''

if age >= 0 and (q >= 0 or kv >= 0) then
  local at = now - age
  if at > sig then
    rq, rkv, sig, rsrc = q, kv, at, src
  end
end
local stale = sig < 0 or now - sig > staleMs
local sat = 0
if not stale then
  if rq >= 0 then sat = math.max(sat, rq / qT) end
  if rkv >= 0 then sat = math.max(sat, rkv / kvT) end
end
if stepAt < 0 or now - stepAt >= stepMs - math.floor(stepMs / 10) then
  if stale then
    factor = 1
  elseif sat >= 1 then
    factor = factor * dec
  else
    factor = factor + inc
  end
  stepAt = now
end
factor = math.min(math.max(factor, minF), maxF)
redis.call('HSET', KEYS[1], 'f', num(factor), 'step', string.format('%d', stepAt), 'q', num(rq), 'kv', num(rkv),
           'sig', string.format('%d', sig), 'src', rsrc)
redis.call('PEXPIRE', KEYS[1], 86400000) -- a pool no instance steps any more is forgotten after a day
local sigAge = -1
if sig >= 0 then sigAge = math.max(0, now - sig) end
return {num(factor), num(sat), num(rq), num(rkv), string.format('%d', sigAge), rsrc, stale and '1' or '0'}
