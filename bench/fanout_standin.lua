-- (g) fan-out: N RunJob calls against the stand-in started with
-- --delay-ms 20 (each answer held 20 ms, concurrent ones in parallel), made
-- one after another with run_job, then at once with run_jobs and IN_FLIGHT on
-- the wire. Prints one JSON line: both totals and the speed-up.
--   cloudrun-lua bench/fanout_standin.lua ENDPOINT TOKEN N IN_FLIGHT
local cloudrun = require("cloudrun")
local core = require("cloudrun.core")

local endpoint, token, n, in_flight = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4])
assert(endpoint and token and n and in_flight, "usage: fanout_standin.lua ENDPOINT TOKEN N IN_FLIGHT")

local client = assert(cloudrun.client{ project = "bench", region = "local", endpoint = endpoint,
  credentials = cloudrun.auth.access_token(token) })
assert(client:run_job("noop")) -- the connection, the first allocations

local list, opts = {}, {}
for i = 1, n do
  opts[i] = { args = { "--id=" .. i }, env = { ID = tostring(i) } }
  list[i] = { job = "noop", args = opts[i].args, env = opts[i].env }
end

local t0 = core.monotonic()
for i = 1, n do assert(client:run_job("noop", opts[i])) end
local sequential = core.monotonic() - t0

t0 = core.monotonic()
local results, failed = client:run_jobs(list, { in_flight = in_flight })
local fanned = core.monotonic() - t0
assert(failed == 0, "some triggers failed: " .. tostring(failed))
assert(#results == n)
for i = 1, n do assert(results[i].execution, "no execution in result " .. i) end

print(('{"n":%d,"in_flight":%d,"sequential_s":%.4f,"fanned_s":%.4f,"speedup":%.2f}'):format(
  n, in_flight, sequential, fanned, sequential / fanned))
