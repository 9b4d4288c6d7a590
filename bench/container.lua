-- bench/container.lua — the Lua half of bench/container.sh: what one task
-- costs per runtime of the emulator (issue 20), one execution at a time.
--
--   cloudrun-lua bench/container.lua run RUNTIME ROUND K
--     K executions of the job "noop" one after another against the emulator
--     that CLOUD_RUN_EMULATOR_HOST names (started with --runtime RUNTIME):
--     each is client:run_job, then client:wait until the execution has
--     finished (polling every BENCH_POLL seconds, 0.002 by default), timed
--     with cloudrun.core.monotonic. A JSON line per execution:
--       {"rt":..,"round":..,"kind":"exec","ms":wall,"span_ms":createTime to completionTime,
--        "start_ms":createTime to startTime}
--     (the emulator's own clock: span_ms is the same execution without the
--     client's RunJob call and its polling; start_ms what came before its task
--     started, for a container runtime the image's look-up). An execution that
--     did not succeed ends the run.
--
--   cloudrun-lua bench/container.lua report RESULTS.jsonl
--     The table: those lines, and the floors' ({"rt":..,"kind":"floor","ms":..},
--     written by container.sh from bench/measure.c), by runtime, in the order
--     BENCH_RUNTIMES gives ("process podman docker"); the floors' commands
--     from BENCH_FLOOR_<runtime>.
local cloudrun = require("cloudrun")
local core = require("cloudrun.core")

local mode = arg[1]

-- RFC 3339 with a fraction -> seconds (the offset from local time cancels in a difference)
local function seconds(t)
  local y, mo, d, h, mi, s = tostring(t):match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):([%d.]+)Z$")
  assert(y, "not an RFC 3339 UTC time: " .. tostring(t))
  local whole = os.time{ year = tonumber(y), month = tonumber(mo), day = tonumber(d),
                         hour = tonumber(h), min = tonumber(mi), sec = 0 }
  return whole + tonumber(s)
end

local function condition(resource, kind)
  for _, c in ipairs(resource.conditions or {}) do
    if c.type == kind then return c end
  end
end

if mode == "run" then
  local rt, round, k = arg[2], tonumber(arg[3]), tonumber(arg[4])
  assert(rt and round and k, "usage: container.lua run RUNTIME ROUND K")
  assert(os.getenv("CLOUD_RUN_EMULATOR_HOST"), "CLOUD_RUN_EMULATOR_HOST must name the emulator")
  local poll = tonumber(os.getenv("BENCH_POLL") or "0.002")
  local client = assert(cloudrun.client{ project = "bench", region = "local" })
  assert(client:get_job("noop")) -- the connection is up before the first execution is timed
  for _ = 1, k do
    local t0 = core.monotonic()
    local op = assert(client:run_job("noop"))
    local e = assert(client:wait(op, { timeout = 120, interval = poll, max_interval = poll }))
    local ms = (core.monotonic() - t0) * 1000
    local done = condition(e, "Completed")
    if not (done and done.state == "CONDITION_SUCCEEDED" and tonumber(e.succeededCount) == 1) then
      io.stderr:write(("container.lua: %s: %s did not succeed: %s\n"):format(rt, e.name,
        core.json_encode(e)))
      os.exit(1)
    end
    local created = seconds(e.createTime)
    print(('{"rt":"%s","round":%d,"kind":"exec","ms":%.3f,"span_ms":%.3f,"start_ms":%.3f}'):format(rt, round, ms,
      (seconds(e.completionTime) - created) * 1000, (seconds(e.startTime) - created) * 1000))
    io.stdout:flush()
  end
  os.exit(0)
end

assert(mode == "report" and arg[2], "usage: container.lua run RUNTIME ROUND K | report RESULTS.jsonl")

local samples = {} -- samples[rt][kind][field] = { values... }
for line in io.lines(arg[2]) do
  if line:match("%S") then
    local r = assert(core.json_decode(line))
    local by_kind = samples[r.rt] or {}
    samples[r.rt] = by_kind
    local s = by_kind[r.kind] or { ms = {}, span_ms = {}, start_ms = {} }
    by_kind[r.kind] = s
    s.ms[#s.ms + 1] = r.ms
    if r.span_ms then s.span_ms[#s.span_ms + 1] = r.span_ms end
    if r.start_ms then s.start_ms[#s.start_ms + 1] = r.start_ms end
  end
end

local function median(values)
  local v = { table.unpack(values) }
  table.sort(v)
  local n = #v
  if n == 0 then return nil end
  if n % 2 == 1 then return v[(n + 1) / 2] end
  return (v[n / 2] + v[n / 2 + 1]) / 2
end

-- the nearest-rank percentile: the smallest value with at least p of them at or below it
local function percentile(values, p)
  local v = { table.unpack(values) }
  table.sort(v)
  if #v == 0 then return nil end
  return v[math.max(1, math.ceil(p * #v))]
end

local function ms(x)
  if not x then return "-" end
  if x < 10 then return ("%.2f"):format(x) end
  if x < 100 then return ("%.1f"):format(x) end
  return ("%.0f"):format(x)
end
local function ratio(a, b)
  if not a or not b or b == 0 then return "-" end
  local r = a / b
  return r < 10 and ("%.2fx"):format(r) or ("%.0fx"):format(r)
end

local runtimes = {}
for rt in (os.getenv("BENCH_RUNTIMES") or "process podman docker"):gmatch("%S+") do
  if samples[rt] then runtimes[#runtimes + 1] = rt end
end
local process = samples.process and samples.process.exec and median(samples.process.exec.ms)

local fmt = "%-8s %5s %9s %7s %8s %8s  %-28s %8s %9s %10s %8s"
print(fmt:format("runtime", "execs", "median ms", "p90 ms", "emu span", "to start", "floor (cannot beat)", "floor ms",
  "floor p90", "exec/floor", "/process"))
for _, rt in ipairs(runtimes) do
  local ex, fl = samples[rt].exec, samples[rt].floor
  local m = ex and median(ex.ms)
  local f = fl and median(fl.ms)
  print(fmt:format(rt, ex and #ex.ms or 0, ms(m), ms(ex and percentile(ex.ms, 0.9)),
    ms(ex and median(ex.span_ms)), ms(ex and median(ex.start_ms)), os.getenv("BENCH_FLOOR_" .. rt) or "?", ms(f),
    ms(fl and percentile(fl.ms, 0.9)), ratio(m, f), ratio(m, process)))
end
