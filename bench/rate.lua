-- (j) triggers per minute under run_jobs' per_minute (issue 24): against an emulator
-- (CLOUD_RUN_EMULATOR_HOST, its job `noop`: bench/jobs.json), N RunJobs of one run_jobs
-- call, unpaced and then with per_minute = P for each P given. Each line shows the rate
-- asked for, the rate the emulator saw (its executions' createTimes: when each RunJob
-- arrived), and the gaps between arrivals (median, closest) beside the spacing 60/P:
-- per_minute spreads starts evenly, so a quota counted per minute (or refilled
-- continuously) is never exceeded, even at the start. The client spaces its sends; an
-- arrival may come a little closer to the one before than the spacing (each
-- connection's set-up, a busy machine), never early on average.
--   CLOUD_RUN_EMULATOR_HOST=127.0.0.1:PORT cloudrun-lua bench/rate.lua N P [P...]
local cloudrun = require("cloudrun")
local core = require("cloudrun.core")

local N = tonumber(arg[1]) or 60
local rates = {}
for i = 2, #arg do rates[#rates + 1] = assert(tonumber(arg[i]), "P must be a number of RunJobs a minute") end
if #rates == 0 then rates = { 600 } end
assert(os.getenv("CLOUD_RUN_EMULATOR_HOST"), "CLOUD_RUN_EMULATOR_HOST must name the emulator")

local client = assert(cloudrun.client{ project = "bench", region = "local" })

-- "2026-12-07T17:00:01.123456Z" -> seconds (of the day: only differences are used)
local function seconds(t)
  local h, m, s = t:match("T(%d+):(%d+):([%d.]+)Z$")
  assert(h, t)
  return tonumber(h) * 3600 + tonumber(m) * 60 + tonumber(s)
end

-- One run_jobs of N noop triggers; returns the arrivals (seconds, sorted) and the call's wall time.
local function run(per_minute)
  local list = {}
  for i = 1, N do list[i] = { job = "noop", args = { "--id=" .. i } } end
  local t0 = core.monotonic()
  local ops, failed = client:run_jobs(list, { in_flight = 16, per_minute = per_minute })
  local wall = core.monotonic() - t0
  assert(failed == 0, "some RunJob calls failed: " .. tostring(ops[1]))
  local at = {}
  for i, op in ipairs(ops) do
    local e = assert(client:get_execution(op.execution))
    at[i] = seconds(e.createTime)
  end
  table.sort(at)
  return at, wall
end

local function closest(at)
  local c = math.huge
  for i = 2, #at do c = math.min(c, at[i] - at[i - 1]) end
  return c
end

local function median_gap(at)
  local gaps = {}
  for i = 2, #at do gaps[#gaps + 1] = at[i] - at[i - 1] end
  table.sort(gaps)
  return gaps[math.max(1, math.floor((#gaps + 1) / 2))] or 0
end

print(("%-11s %8s %8s %13s %11s %14s %15s"):format("per_minute", "triggers", "seconds", "seen /minute",
  "spacing ms", "median gap ms", "closest two ms"))
local ways = { false } -- unpaced first
for _, p in ipairs(rates) do ways[#ways + 1] = p end
for _, p in ipairs(ways) do
  local at, wall = run(p or nil)
  local span = at[#at] - at[1]
  local seen = span > 0 and (#at - 1) / span * 60 or math.huge
  print(("%-11s %8d %8.2f %13.0f %11s %14.1f %15.1f"):format(p and tostring(p) or "unpaced", N, wall, seen,
    p and ("%.1f"):format(60000 / p) or "-", median_gap(at) * 1000, closest(at) * 1000))
end
