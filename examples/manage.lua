-- The job side of the example: what runs inside each Cloud Run task.
-- It stands in for the web app's `manage.py job --id=42`: it takes the
-- command and --id from its arguments, reads its settings from the
-- environment, and reports what it got. Exit status 0 means success.
--
--   cloudrun-lua examples/manage.lua job --id=42
--   cloudrun-lua examples/manage.lua manage.py job --id=42   (the args the nginx example sends)
local first = arg[1] == "manage.py" and 2 or 1
local command = arg[first]
local id
for i = first + 1, #arg do
  id = arg[i]:match("^%-%-id=(%d+)$") or id
end

local function env(name) return os.getenv(name) or "(unset)" end

-- what Cloud Run tells the task (CLOUD_RUN_TASK_INDEX, ...), as numbers
local task = require("cloudrun").task()
print(("task %d/%d (attempt %d) of execution %s of job %s"):format(
  task.index, task.count, task.attempt, task.execution or "(unset)", task.job or "(unset)"))
print("args: " .. table.concat(arg, " "))

if command ~= "job" or not id then
  io.stderr:write("usage: manage.lua job --id=N\n")
  os.exit(2)
end

print(("running job --id=%s with REPORT_FORMAT=%s, ID=%s"):format(id, env("REPORT_FORMAT"), env("ID")))
-- The real work would go here: build the report for record `id`.
print(("report %s done"):format(id))
