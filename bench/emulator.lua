-- (h) the emulator's executions per second: N RunJob calls of the no-op job
-- (command ["true"]) with IN_FLIGHT on the wire, then the executions listed
-- until every one has finished. The rate is N over the span from the first
-- execution's createTime to the last one's completionTime (the emulator's own
-- clock): every execution counted was created, had its task started and
-- finished within that span. Run against a fresh emulator
-- (CLOUD_RUN_EMULATOR_HOST) seeded with bench/jobs.json. TRIGGER "run_jobs"
-- (the default) makes the calls with client:run_jobs; "none" only waits for N
-- executions that something else triggered (bench/run.sh uses bench/getload.c,
-- so that the client's own stalls cannot count against the emulator).
-- Prints one JSON line, with one execution's name for the GetExecution load.
--   CLOUD_RUN_EMULATOR_HOST=127.0.0.1:PORT cloudrun-lua bench/emulator.lua N IN_FLIGHT [TRIGGER]
local cloudrun = require("cloudrun")
local core = require("cloudrun.core")

local n, in_flight, trigger = tonumber(arg[1]), tonumber(arg[2]), arg[3] or "run_jobs"
assert(n and in_flight and (trigger == "run_jobs" or trigger == "none"),
  "usage: emulator.lua N IN_FLIGHT [run_jobs|none]")
assert(os.getenv("CLOUD_RUN_EMULATOR_HOST"), "CLOUD_RUN_EMULATOR_HOST must name the emulator")

-- RFC 3339 with a fraction -> seconds (the offset from local time cancels in a difference)
local function seconds(t)
  local y, mo, d, h, mi, s = t:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):([%d.]+)Z$")
  assert(y, "not an RFC 3339 UTC time: " .. tostring(t))
  local whole = os.time{ year = tonumber(y), month = tonumber(mo), day = tonumber(d),
                         hour = tonumber(h), min = tonumber(mi), sec = 0 }
  return whole + tonumber(s)
end

local function condition(resource, kind)
  for _, c in ipairs(resource.conditions or {}) do
    if c.type == kind then return c.state end
  end
end

local client = assert(cloudrun.client{ project = "bench", region = "local" })
local list = {}
for i = 1, n do list[i] = { job = "noop", args = { "--id=" .. i } } end

local trigger_s = 0
if trigger == "run_jobs" then
  local t0 = core.monotonic()
  local results, failed = client:run_jobs(list, { in_flight = in_flight })
  trigger_s = core.monotonic() - t0
  assert(failed == 0, "some RunJob calls failed: " .. tostring(failed) .. " " .. tostring(results[1]))
end

-- every execution finished (or a minute passed)
local executions
local deadline = core.monotonic() + 60
repeat
  executions = {}
  local finished = 0
  for e in client:each_executions("noop", { page_size = 1000 }) do
    executions[#executions + 1] = e
    if e.completionTime then finished = finished + 1 end
  end
  if finished == n and #executions == n then break end
  core.sleep(0.05)
until core.monotonic() > deadline
assert(#executions == n, ("expected %d executions, found %d"):format(n, #executions))

local first, last = math.huge, -math.huge
for _, e in ipairs(executions) do
  assert(e.completionTime, e.name .. " did not finish within a minute")
  assert(condition(e, "Completed") == "CONDITION_SUCCEEDED", e.name .. " did not succeed")
  assert(tonumber(e.succeededCount) == 1 and e.startTime, e.name .. ": its task did not run")
  first = math.min(first, seconds(e.createTime))
  last = math.max(last, seconds(e.completionTime))
end
local span = last - first
print(('{"n":%d,"in_flight":%d,"trigger_s":%.4f,"span_s":%.4f,"per_s":%.1f,"execution":"%s"}')
  :format(n, in_flight, trigger_s, span, n / span, executions[1].name))
