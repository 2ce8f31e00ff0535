-- update: PUT /orders/updateOrderStatus/{id}?status=..., valid forward moves
-- only, each answering 201. Every thread owns a disjoint slice of the PENDING
-- orders in ids= and walks it status first: every order of the slice to
-- CONFIRMED, then every one to SHIPPED, and so on to DELIVERED. An order's
-- next move is thus sent a whole slice after its previous one, long after
-- that one was answered (a thread has only conns/threads requests in
-- flight), so no move can overtake the one before it: any 409 is a bug.
-- A thread that has walked its whole slice stops and reports exhausted.
local lt = require("loadtest")
local moves = { "CONFIRMED", "SHIPPED", "OUT_FOR_DELIVERY", "DELIVERED" }
local mine, pos = {}, 0

lt.run {
  expect = 201,
  init = function(o)
    local nthreads, conns = tonumber(o.threads), tonumber(o.conns)
    if not nthreads or not conns then lt.fail("threads=N and conns=N are required") end
    for i, id in ipairs(lt.read_ids(o.ids)) do
      if (i - 1) % nthreads == thread_index then mine[#mine + 1] = id end
    end
    -- A slice barely longer than the requests in flight could let an
    -- order's next move leave before its previous one was answered.
    if #mine < 10 * math.ceil(conns / nthreads) then
      lt.fail(string.format("%d orders per thread are too few for %d connections per thread", #mine, math.ceil(conns / nthreads)))
    end
  end,
  request = function()
    local phase = math.floor(pos / #mine) + 1
    if phase > #moves then
      exhausted = 1
      wrk.thread:stop()
      phase = #moves
    end
    local id = mine[pos % #mine + 1]
    pos = pos + 1
    return wrk.format("PUT", "/orders/updateOrderStatus/" .. id .. "?status=" .. moves[phase])
  end,
}
