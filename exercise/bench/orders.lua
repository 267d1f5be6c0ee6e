-- wrk script for `cargo exercise bench`: every request is a POST /orders of a new order.
--
-- Order ids are unique across wrk's threads (thread n counts up from n * 10^9), one cent
-- each, spread over customers 1 to 5 (the bench opens their accounts with enough for any
-- run).

local threads = 0

function setup(thread)
  thread:set("first_id", threads * 1000000000)
  threads = threads + 1
end

local headers = { ["Content-Type"] = "application/json" }
local count = 0

function request()
  count = count + 1
  local id = first_id + count
  local body = string.format(
    '{"id": %d, "customer_id": %d, "amount": 0.01, "priority": false}', id, id % 5 + 1)
  return wrk.format("POST", "/orders", headers, body)
end
