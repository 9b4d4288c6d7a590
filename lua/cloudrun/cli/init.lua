--- cloudrun.cli — the `cloudrun` command, with gcloud's habits. Each command
-- returns an exit status: 0 ok, 1 the execution failed (--wait), 2 bad
-- usage, 3 the API or credentials refused or failed. Only the C launcher
-- exits; `cloudrun emulator` is handled there before Lua starts.
local common = require("cloudrun.cli.common")
local jobs = require("cloudrun.cli.jobs")
local executions = require("cloudrun.cli.executions")
local auth = require("cloudrun.cli.auth")

local io, table = io, table

local _M = {}

local USAGE = [[
usage: cloudrun <group> <command> [flags]

  cloudrun jobs execute JOB [--args=a,b,c] [--update-env-vars=K=V,...] [--tasks N]
                            [--task-timeout 10m] [--container NAME] [--wait | --async]
  cloudrun jobs create JOB --image IMAGE [--command c] [--args a,b] [--tasks N] [--parallelism N]
                           [--max-retries N] [--task-timeout 10m] [--set-env-vars K=V,...]
  cloudrun jobs describe JOB            cloudrun jobs delete JOB
  cloudrun jobs list [--limit N]
  cloudrun jobs executions list [--job JOB] [--limit N]
  cloudrun jobs executions describe|cancel|delete EXECUTION
  cloudrun jobs executions tasks list --execution EXECUTION
  cloudrun jobs executions tasks describe TASK
  cloudrun auth print-access-token      cloudrun auth describe
  cloudrun emulator [--host 127.0.0.1] [--port 8123] [--jobs FILE] [--log-dir DIR]
  cloudrun version

Every command takes --project P, --region R and --format json. Project and region
default to $GOOGLE_CLOUD_PROJECT / $CLOUDSDK_CORE_PROJECT and $CLOUDSDK_RUN_REGION.
With $CLOUD_RUN_EMULATOR_HOST set, requests go to the emulator without credentials.
Exit status: 0 success, 1 the execution failed (--wait), 2 bad usage, 3 API or credentials error.]]

-- words -> handler; the longest matching prefix wins
local commands = {
  { { "jobs", "execute" }, jobs.execute },
  { { "jobs", "create" }, jobs.create },
  { { "jobs", "describe" }, jobs.describe },
  { { "jobs", "delete" }, jobs.delete },
  { { "jobs", "list" }, jobs.list },
  { { "jobs", "executions", "list" }, executions.list },
  { { "jobs", "executions", "describe" }, executions.describe },
  { { "jobs", "executions", "cancel" }, executions.cancel },
  { { "jobs", "executions", "delete" }, executions.delete },
  { { "jobs", "executions", "tasks", "list" }, executions.tasks_list },
  { { "jobs", "executions", "tasks", "describe" }, executions.tasks_describe },
  { { "auth", "print-access-token" }, auth.print_access_token },
  { { "auth", "describe" }, auth.describe },
}

local function matches(words, args)
  for i, w in ipairs(words) do
    if args[i] ~= w then return false end
  end
  return true
end

--- main(arg) -> exit status. arg[1..] are the command line words.
function _M.main(args)
  local first = args[1]
  if first == nil or first == "help" or first == "--help" or first == "-h" then
    io.stdout:write(USAGE, "\n")
    return first == nil and common.USAGE or common.OK
  elseif first == "version" or first == "--version" then
    io.stdout:write("cloudrun (lua-cloudrun) ", require("cloudrun")._VERSION, "\n")
    return common.OK
  end
  local best
  for _, c in ipairs(commands) do
    if matches(c[1], args) and (not best or #c[1] > #best[1]) then best = c end
  end
  if not best then
    return common.usage_error("unknown command '" .. table.concat(args, " ", 1, math.min(#args, 4)) .. "'")
  end
  return best[2](args)
end

return _M
