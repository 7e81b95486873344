-- SPDX-License-Identifier: Apache-2.0
-- wrk script for bench/http-check.sh --lifecycle: every admitted check (with a token estimate) is
-- followed by POST /rate-limit/complete of its reservation with an actual count, on the same
-- thread's next request. Prints how many checks and completions went out.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n, pending, checks, completes = 0, {}, 0, 0
-- SLUICE_BENCH_COMPLETE=0: checks only (their leases are never released), to price a check alone.
local completing = os.getenv("SLUICE_BENCH_COMPLETE") ~= "0"
request = function()
  local id = completing and table.remove(pending)
  if id then
    completes = completes + 1
    return wrk.format(nil, "/rate-limit/complete", nil, string.format('{"reservationId":"%s","tokens":%d}', id, 100 + n % 400))
  end
  n = n + 1
  checks = checks + 1
  local body = string.format('{"userId":"u%d","modelId":"gpt-4o","tenantId":"enterprise_co","modelTier":"premium","cost":%d}', n % 1000, 500 + n % 500)
  return wrk.format(nil, "/rate-limit/check", nil, body)
end
response = function(status, headers, body)
  -- Only a check's answer hands out a reservation (a completion's answer names it too).
  if string.find(body, '"allowed":true', 1, true) then
    local id = string.match(body, '"reservationId":"([^"]+)"')
    if id then table.insert(pending, id) end
  end
end
