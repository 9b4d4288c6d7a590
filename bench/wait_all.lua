-- (i) following many executions: the requests each way of waiting sends (issue 24).
-- Against a fresh emulator (CLOUD_RUN_EMULATOR_HOST; bench/run.sh starts one with
-- --max-processes 200), a job `sleepy` (sh -c 'sleep "$D"') is created here; for
-- each way, N executions of it with D spread over 0, 0.5, 1, 1.5 and 2 s are
-- started with run_jobs, then followed to their end:
--   wait, one after another   for each: client:wait(op) — a script's loop
--   a waiter per execution    N waiters at once on wait's rhythm (wait.next_interval), as N
--                             nginx handlers would wait; simulated here on one thread, so
--                             the waiters fall behind their rhythm when GETs queue up, and
--                             the figure is a floor of what N real waiters would send
--   wait_all                  client:wait_all(ops)
-- The requests are the emulator's counts (/emulator/v1/stats: GetExecution and
-- ListExecutions), taken around the waiting only; wall is the waiting's time.
--   CLOUD_RUN_EMULATOR_HOST=127.0.0.1:PORT cloudrun-lua bench/wait_all.lua N
local cloudrun = require("cloudrun")
local core = require("cloudrun.core")
local wait = require("cloudrun.wait")

local N = tonumber(arg[1]) or 1000
local host = assert(os.getenv("CLOUD_RUN_EMULATOR_HOST"), "CLOUD_RUN_EMULATOR_HOST must name the emulator")

local function control(method, path)
  local p = assert(io.popen(("curl -sS -X %s http://%s/emulator/v1/%s"):format(method, host, path)))
  local out = p:read("a")
  p:close()
  return assert(cloudrun.json.decode(out), "the emulator's control API answered: " .. tostring(out))
end

local client = assert(cloudrun.client{ project = "bench", region = "local" })
local op, err = client:create_job("sleepy", { template = { template = { maxRetries = 0, containers = {
  { image = "bench", command = { "/bin/sh", "-c", 'sleep "$D"' } } } } } })
if op and not op.done then assert(client:wait_operation(op, 30)) end
assert(op or err.code == "ALREADY_EXISTS", tostring(err))

local function start()
  local list = {}
  for i = 1, N do list[i] = { job = "sleepy", env = { D = tostring((i % 5) * 0.5) } } end
  local ops, failed = client:run_jobs(list, { in_flight = 32 })
  assert(failed == 0, "some RunJob calls failed: " .. tostring(ops[1]))
  return ops
end

local ways = {
  { "wait, one after another", function(ops)
    for _, o in ipairs(ops) do assert(client:wait(o, { timeout = 300 })) end
  end },
  { "a waiter per execution (wait's rhythm)", function(ops)
    local now = core.monotonic
    local waiters, pending = {}, #ops
    for i, o in ipairs(ops) do waiters[i] = { name = o.execution, at = now(), interval = 0.2 } end
    while pending > 0 do
      local next_w
      for _, w in ipairs(waiters) do
        if not w.done and (not next_w or w.at < next_w.at) then next_w = w end
      end
      local gap = next_w.at - now()
      if gap > 0 then core.sleep(gap) end
      local e = assert(client:get_execution(next_w.name))
      if wait.finished(e) then
        next_w.done, pending = true, pending - 1
      else
        next_w.at = now() + next_w.interval
        next_w.interval = wait.next_interval(next_w.interval, 10)
      end
    end
  end },
  { "wait_all", function(ops)
    local _, failed = client:wait_all(ops, { timeout = 300 })
    assert(failed == 0, "wait_all: " .. failed .. " failed")
  end },
}

print(("%-40s %13s %15s %10s %8s"):format(("%d executions, each way its own"):format(N), "GetExecution",
  "ListExecutions", "requests", "wall s"))
for _, way in ipairs(ways) do
  local ops = start()
  control("DELETE", "stats")
  local t0 = core.monotonic()
  way[2](ops)
  local wall = core.monotonic() - t0
  local calls = control("GET", "stats").calls
  local gets, lists = calls.GetExecution or 0, calls.ListExecutions or 0
  print(("%-40s %13d %15d %10d %8.2f"):format(way[1], gets, lists, gets + lists, wall))
end
