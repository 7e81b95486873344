-- wrk script: the requests of another wrk script (SLUICE_BENCH_LUA, default the anchors'
-- check-post.lua), paced: each connection waits SLUICE_BENCH_DELAY_MS after every answer, so that
-- connections x 1000 / (delay + latency) requests go per second (a latency figure at a set rate,
-- below saturation, where p99 is what a caller sees and not queueing in wrk).
dofile(os.getenv("SLUICE_BENCH_LUA"))
local pause = tonumber(os.getenv("SLUICE_BENCH_DELAY_MS") or "1")
delay = function() return pause end
