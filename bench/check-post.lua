-- SPDX-License-Identifier: Apache-2.0
-- wrk script: POST /rate-limit/check with the demo's body, cycling over 1000 users
-- (used when the shared anchors are not beside the checkout).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"userId":"u%d","modelId":"gpt-4o","tenantId":"enterprise_co","modelTier":"premium"}', n % 1000)
  return wrk.format(nil, "/rate-limit/check", nil, body)
end
