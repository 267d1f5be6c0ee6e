-- wrk script for `cargo exercise bench`: one-cent deductions straight at the balance
-- service, without idempotency keys, to measure what the stub alone can serve.

local headers = { ["Content-Type"] = "application/json" }
local count = 0

function request()
  count = count + 1
  local path = string.format("/accounts/%d/deductions", count % 5 + 1)
  return wrk.format("POST", path, headers, '{"amount": 0.01, "reference": "bench"}')
end
