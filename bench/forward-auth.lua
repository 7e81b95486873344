-- SPDX-License-Identifier: Apache-2.0
-- wrk script: GET through nginx (auth_request → Sluice's forward-auth), cycling over 1000 users.
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/v1/chat/completions", {["X-Tenant-Id"] = "enterprise_co",
    ["X-User-Id"] = "u" .. (n % 1000), ["X-Model-Id"] = "gpt-4o"})
end
