-- list: GET path= (GET /orders/fetchAllOrders with a filter, see hack/loadtest.sh) (200).
local lt = require("loadtest")
local req
lt.run {
  expect = 200,
  init = function(o)
    if not o.path then lt.fail("path=PATH is required") end
    req = wrk.format("GET", o.path)
  end,
  request = function() return req end,
}
