-- Benchmark: what one trigger costs the caller. Runs against a local
-- `cloudrun emulator` (CLOUD_RUN_EMULATOR_HOST) and prints, side by side:
--   run_job on a warm client (kept-alive connection)    wall and CPU per call
--   get_execution on a warm client                       wall and CPU per call
--   get_execution on a fresh client each time (new TCP)  wall and CPU per call
-- and the ratio cold/warm. CPU is this process's (os.clock), so the
-- emulator's own work is not counted in it.
--   CLOUD_RUN_EMULATOR_HOST=127.0.0.1:8123 cloudrun-lua bench/trigger.lua [N]
local cloudrun = require("cloudrun")
local core = require("cloudrun.core")

local N = tonumber(arg[1]) or 200
local opts = { project = "bench", region = "local" }

local function measure(n, fn)
  local c0, t0 = os.clock(), core.monotonic()
  for i = 1, n do fn(i) end
  return (core.monotonic() - t0) / n * 1e6, (os.clock() - c0) / n * 1e6
end

local client = assert(cloudrun.client(opts))
-- warm up: connection, first allocation
local op = assert(client:run_job("noop"))
assert(client:wait(op, { timeout = 30 }))

local rows = {}
local run_wall, run_cpu = measure(N, function()
  assert(client:run_job("noop", { args = { "--id=42" }, env = { ID = "42" } }))
end)
rows[#rows + 1] = { "run_job, warm client", run_wall, run_cpu }

local get_wall, get_cpu = measure(N, function()
  assert(client:get_execution(op.execution))
end)
rows[#rows + 1] = { "get_execution, warm client", get_wall, get_cpu }

local cold_wall, cold_cpu = measure(math.max(10, N // 4), function()
  local c = assert(cloudrun.client(opts))
  assert(c:get_execution(op.execution))
  c:close()
end)
rows[#rows + 1] = { "get_execution, new client each call", cold_wall, cold_cpu }

print(("%-38s %12s %12s"):format("operation (N=" .. N .. ")", "wall us/call", "CPU us/call"))
for _, r in ipairs(rows) do
  print(("%-38s %12.1f %12.1f"):format(r[1], r[2], r[3]))
end
print(("%-38s %12.2f %12.2f"):format("ratio new-client / warm (get)", cold_wall / get_wall, cold_cpu / get_cpu))
