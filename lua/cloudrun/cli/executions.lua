--- cloudrun jobs executions list|describe|cancel|delete, and
-- cloudrun jobs executions tasks list|describe — as gcloud run jobs executions.
local common = require("cloudrun.cli.common")

local tostring = tostring
local say, api_failure = common.say, common.api_failure

local _M = {}

local function status(e)
  local state, message = common.condition(e, "Completed")
  return state, message
end

local function describe_execution(e)
  local state, message = status(e)
  common.fields{
    { "Execution", common.short(e.name) },
    { "Job", e.job },
    { "Tasks", ("%d (%d succeeded, %d failed, %d cancelled, %d running)"):format(e.taskCount or 0,
      e.succeededCount or 0, e.failedCount or 0, e.cancelledCount or 0, e.runningCount or 0) },
    { "Status", state and (state .. (message and (" — " .. message) or "")) },
    { "Created", e.createTime },
    { "Started", e.startTime },
    { "Completed", e.completionTime },
    { "Logs", e.logUri },
  }
end

function _M.list(args)
  return common.list(args, 4, { job = "value" }, {
    check = function(pos) return #pos ~= 0 and "jobs executions list takes no arguments (use --job JOB)" or nil end,
    each = function(client, flags) return client:each_executions(flags.job) end,
    header = { "EXECUTION", "JOB", "SUCCEEDED", "STATUS", "CREATED" },
    row = function(e)
      return { common.short(e.name), tostring(e.job), ("%d/%d"):format(e.succeededCount or 0, e.taskCount or 0),
        status(e) or "", e.createTime or "" }
    end,
  })
end

-- describe / cancel / delete EXECUTION
local function one(args, verb)
  return common.one(args, 4, verb ~= "describe" and { async = "bool" } or {}, "jobs executions " .. verb, "EXECUTION")
end

function _M.describe(args)
  local client, name, flags = one(args, "describe")
  if not client then return name end
  local e, err = client:get_execution(name)
  if not e then return api_failure(err) end
  if flags.format then common.print_json(e) else describe_execution(e) end
  return common.OK
end

function _M.cancel(args)
  local client, name, flags = one(args, "cancel")
  if not client then return name end
  local op, err = client:cancel_execution(name)
  if not op then return api_failure(err) end
  if not flags.async then
    local e
    e, err = client:wait(op.execution or op, { timeout = 120 })
    if not e then return api_failure(err) end
    op = e
  end
  if flags.format then common.print_json(op) else say("Execution [", common.short(name), "] has been cancelled.") end
  return common.OK
end

function _M.delete(args)
  local client, name, flags = one(args, "delete")
  if not client then return name end
  local op, err = client:delete_execution(name)
  if not op then return api_failure(err) end
  if flags.format then common.print_json(op) else say("Deleted execution [", common.short(name), "].") end
  return common.OK
end

-- ---- tasks ----------------------------------------------------------------------

local function task_status(t)
  local state = common.condition(t, "Completed")
  return state or ""
end

function _M.tasks_list(args)
  return common.list(args, 5, { execution = "value" }, {
    check = function(_, flags)
      return not flags.execution and "jobs executions tasks list needs --execution EXECUTION" or nil
    end,
    each = function(client, flags) return client:each_tasks(flags.execution) end,
    header = { "TASK", "INDEX", "STATUS", "EXIT CODE", "RETRIES", "LOG" },
    row = function(t)
      local last, state = t.lastAttemptResult or {}, task_status(t)
      -- proto3 leaves out an exit code of 0: a finished task without one exited 0
      local exit = last.exitCode or (last.termSignal and ("signal " .. last.termSignal))
        or ((state == "CONDITION_SUCCEEDED" or state == "CONDITION_FAILED") and 0) or ""
      return { common.short(t.name), t.index or 0, state, exit, t.retried or 0, t.logUri or "" }
    end,
  })
end

function _M.tasks_describe(args)
  local client, name, flags = common.one(args, 5, {}, "jobs executions tasks describe", "TASK")
  if not client then return name end
  local t, err = client:get_task(name)
  if not t then return api_failure(err) end
  if flags.format then common.print_json(t) return common.OK end
  local last = t.lastAttemptResult or {}
  local state, message = common.condition(t, "Completed")
  common.fields{
    { "Task", common.short(t.name) },
    { "Index", t.index or 0 },
    { "Status", state and (state .. (message and (" — " .. message) or "")) },
    { "Exit code", last.exitCode },
    { "Signal", last.termSignal },
    { "Retries", t.retried or 0 },
    { "Started", t.startTime },
    { "Completed", t.completionTime },
    { "Log", t.logUri },
  }
  return common.OK
end

return _M
