-- Benchmark: fan-out. N RunJob calls against a server that holds each one
-- for 20 ms (the emulator's delay fault), made one after another with
-- run_job, then all at once with run_jobs (the multi driver) and a bound on
-- how many are in flight; prints both and the speed-up.
--   CLOUD_RUN_EMULATOR_HOST=127.0.0.1:8123 cloudrun-lua bench/fanout.lua [N] [IN_FLIGHT]
local cloudrun = require("cloudrun")
local core = require("cloudrun.core")

local N = tonumber(arg[1]) or 100
local IN_FLIGHT = tonumber(arg[2]) or 32
local DELAY_MS = 20
local host = assert(os.getenv("CLOUD_RUN_EMULATOR_HOST"), "CLOUD_RUN_EMULATOR_HOST must name the emulator")

-- the emulator's control API: the next n RunJob calls wait DELAY_MS before they answer
local function hold_run_jobs(n)
  local body = ('{"method":"RunJob","fault":"delay","delay_ms":%d,"count":%d}'):format(DELAY_MS, n)
  local p = assert(io.popen(("curl -sS -o /dev/null -w '%%{http_code}' -X POST -H 'Content-Type: application/json' "
    .. "--data '%s' http://%s/emulator/v1/faults"):format(body, host)))
  local status = p:read("a")
  p:close()
  assert(status == "200", "could not set the delay fault: " .. tostring(status))
end

local client = assert(cloudrun.client{ project = "bench", region = "local" })
assert(client:run_job("noop")) -- warm up

local list = {}
for i = 1, N do list[i] = { job = "noop", args = { "--id=" .. i } } end

hold_run_jobs(N)
local t0 = core.monotonic()
for i = 1, N do assert(client:run_job("noop", { args = { "--id=" .. i } })) end
local sequential = core.monotonic() - t0

hold_run_jobs(N)
t0 = core.monotonic()
local results, failed = client:run_jobs(list, { in_flight = IN_FLIGHT })
local fanned = core.monotonic() - t0
assert(failed == 0, "some triggers failed: " .. tostring(failed))
assert(#results == N)

print(("%-44s %10s %12s"):format(("%d RunJob, %d ms each on the server"):format(N, DELAY_MS), "total s", "calls/s"))
print(("%-44s %10.3f %12.0f"):format("run_job, one after another", sequential, N / sequential))
print(("%-44s %10.3f %12.0f"):format(("run_jobs, %d in flight"):format(IN_FLIGHT), fanned, N / fanned))
print(("%-44s %10.1fx"):format("speed-up", sequential / fanned))
