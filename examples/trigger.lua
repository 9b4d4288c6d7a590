-- The trigger side of the example: what a web app (or an OpenResty handler,
-- or a cron script) does to move slow work to Cloud Run Jobs. It runs the
-- `report` job with per-execution overrides — container args `job --id=42`
-- and an env var — waits for the execution, and prints how it went and what
-- the task printed.
--
--   CLOUD_RUN_EMULATOR_HOST=127.0.0.1:8123 cloudrun-lua examples/trigger.lua [ID]
-- Against Google instead: unset CLOUD_RUN_EMULATOR_HOST and use your project,
-- region and credentials (GOOGLE_APPLICATION_CREDENTIALS or gcloud's ADC login).
local cloudrun = require("cloudrun")

local id = arg[1] or "42"
local client = assert(cloudrun.client{
  project = os.getenv("GOOGLE_CLOUD_PROJECT") or "demo-project",
  region = os.getenv("CLOUDSDK_RUN_REGION") or "us-central1",
})

local op, err = client:run_job("report", {
  args = { "job", "--id=" .. id },   -- replaces the job's args
  env = { ID = id },                 -- merged into the job's env
})
if not op then
  io.stderr:write("run_job failed: ", tostring(err), "\n")
  os.exit(3)
end
print("started " .. op.execution)

local execution
execution, err = client:wait(op, {
  timeout = 300,
  on_progress = function(e)
    print(("  progress: %d running, %d succeeded, %d failed"):format(
      e.runningCount or 0, e.succeededCount or 0, e.failedCount or 0))
  end,
})
if not execution then
  io.stderr:write("wait failed: ", tostring(err), "\n")
  os.exit(3)
end

local outcome = "UNKNOWN"
for _, c in ipairs(execution.conditions or {}) do
  if c.type == "Completed" then outcome = c.state .. (c.message and (": " .. c.message) or "") end
end
print(("execution %s finished: %s (%d of %d task(s) succeeded)"):format(
  execution.name:match("[^/]+$"), outcome, execution.succeededCount or 0, execution.taskCount or 0))

-- The emulator keeps each task's output in a file under the execution's logUri
-- (a file:// URL); on Google, logUri points at Cloud Logging instead.
local dir = execution.logUri and execution.logUri:match("^file://(.*)$")
if dir then
  for i = 0, (execution.taskCount or 1) - 1 do
    local f = io.open(dir:gsub("/$", "") .. "/task" .. i .. ".log")
    if f then
      print(("--- task %d printed:"):format(i))
      io.write(f:read("*a"))
      f:close()
    end
  end
end
os.exit((execution.succeededCount or 0) == (execution.taskCount or 0) and 0 or 1)
