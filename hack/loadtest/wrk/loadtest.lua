-- loadtest.lua: what every scenario script of hack/loadtest.sh shares.
--
-- A scenario script is one call: create(path), read(path_format), list() or
-- run{...}. This module installs wrk's hooks (setup, init, request,
-- response, done), counts every answer whose status is not the one the
-- scenario expects (by code), and at the end prints one @loadtest record with
-- the scenario's figures, in the format of hack/loadtest/internal/results,
-- which the report reads back.
--
-- Script arguments, after wrk's "--", as key=value:
--   scenario=NAME          the scenario's name, echoed into the record
--   conns=N threads=N      wrk's -c and -t, echoed (update also needs them)
--   ids=FILE[,FILE...]     order ids to work on, one per line
--   ids_out=FILE           where a create scenario writes the ids it created
--   path=PATH              the list scenario's path and query
local M = {}

-- Main state only: every thread, for done().
local threads = {}

-- fail stops wrk with msg: a scenario that cannot run must not report.
function M.fail(msg)
  io.stderr:write("loadtest.lua: " .. msg .. "\n")
  os.exit(2)
end

function M.options(args)
  local opts = {}
  for _, a in ipairs(args) do
    local k, v = a:match("^([%w_]+)=(.*)$")
    if not k then M.fail("argument " .. a .. " is not key=value") end
    opts[k] = v
  end
  return opts
end

-- read_ids returns the ids in the comma-separated files, in file order.
function M.read_ids(files)
  if not files or files == "" then M.fail("ids=FILE is required") end
  local ids = {}
  for path in files:gmatch("[^,]+") do
    local f = io.open(path)
    if not f then M.fail("cannot read ids from " .. path) end
    for line in f:lines() do
      local id = tonumber(line)
      if id then ids[#ids + 1] = id end
    end
    f:close()
  end
  if #ids == 0 then M.fail("no ids in " .. files) end
  return ids
end

-- run installs the hooks of a scenario s:
--   s.expect      the status every answer must have
--   s.init(opts)  per thread, before the first request
--   s.request()   the next request (a string from wrk.format)
--   s.record_ids  collect the "id" of every expected answer, for ids_out
function M.run(s)
  function setup(thread)
    thread:set("thread_index", #threads) -- 0-based, read by s.init
    threads[#threads + 1] = thread
  end

  function init(args)
    opts = M.options(args)
    unexpected, codes, created, exhausted = 0, {}, {}, 0
    math.randomseed(os.time() + 7919 * thread_index)
    s.init(opts)
  end

  request = s.request

  function response(status, headers, body)
    if status ~= s.expect then
      unexpected = unexpected + 1
      codes[status] = (codes[status] or 0) + 1
    elseif s.record_ids then
      local id = body:match('"id":(%d+)')
      if id then created[#created + 1] = tonumber(id) end
    end
  end

  function done(summary, latency, _)
    local o = threads[1]:get("opts")
    local bad, by_code, ids, exhausted_threads = 0, {}, {}, 0
    for _, t in ipairs(threads) do
      bad = bad + t:get("unexpected")
      exhausted_threads = exhausted_threads + t:get("exhausted")
      for code, n in pairs(t:get("codes")) do by_code[code] = (by_code[code] or 0) + n end
      if o.ids_out then
        for _, id in ipairs(t:get("created")) do ids[#ids + 1] = id end
      end
    end
    if o.ids_out then
      local f = io.open(o.ids_out, "w")
      if not f then M.fail("cannot write " .. o.ids_out) end
      for _, id in ipairs(ids) do f:write(id, "\n") end
      f:close()
    end
    local code_list = {}
    for code, n in pairs(by_code) do code_list[#code_list + 1] = code .. ":" .. n end
    table.sort(code_list)
    local e, secs = summary.errors, summary.duration / 1e6
    print(string.format(
      "@loadtest wrk scenario=%s conns=%s threads=%s requests=%d duration_s=%.2f rps=%.1f " ..
      "p50_ms=%.2f p99_ms=%.2f max_ms=%.2f unexpected=%d codes=%s " ..
      "connect_errors=%d read_errors=%d write_errors=%d timeouts=%d exhausted=%d",
      o.scenario or "?", o.conns or "?", o.threads or "?", summary.requests, secs, summary.requests / secs,
      latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3,
      bad, #code_list > 0 and table.concat(code_list, ",") or "-",
      e.connect, e.read, e.write, e.timeout, exhausted_threads))
  end
end

local json = { ["Content-Type"] = "application/json" }

-- create POSTs new orders to path (201) and records their ids.
function M.create(path)
  local req
  M.run {
    expect = 201,
    record_ids = true,
    init = function()
      req = wrk.format("POST", path, json, '{"customerName":"loadtest","item":"Laptop","quantity":1}')
    end,
    request = function() return req end,
  }
end

-- read GETs path_format (with %d for the id) of orders picked at random
-- among ids (200).
function M.read(path_format)
  local reqs
  M.run {
    expect = 200,
    init = function(o)
      reqs = {}
      for i, id in ipairs(M.read_ids(o.ids)) do reqs[i] = wrk.format("GET", path_format:format(id)) end
    end,
    request = function() return reqs[math.random(#reqs)] end,
  }
end

return M
