--- cloudrun jobs execute|create|describe|delete|list — as gcloud run jobs.
local common = require("cloudrun.cli.common")
local core = require("cloudrun.core")
local wait = require("cloudrun.wait")

local string, tostring = string, tostring
local say, usage_error, api_failure = common.say, common.usage_error, common.api_failure

local _M = {}

local function succeeded(e)
  local state = common.condition(e, "Completed")
  if state then return state == "CONDITION_SUCCEEDED" end
  return (e.failedCount or 0) == 0 and (e.cancelledCount or 0) == 0
end
_M.succeeded = succeeded

-- ---- execute -------------------------------------------------------------------

_M.execute_flags = {
  args = "value", ["update-env-vars"] = "value", tasks = "value", ["task-timeout"] = "value",
  container = "value", wait = "bool", async = "bool",
}

function _M.execute(args)
  local pos, flags = common.parse(args, 3, _M.execute_flags)
  if not pos then return usage_error(flags) end
  if #pos ~= 1 then return usage_error("jobs execute takes exactly one JOB") end
  if flags.wait and flags.async then return usage_error("--wait and --async cannot be used together") end
  local opts, err = {}
  if flags.args then opts.args = common.split_list(flags.args) end
  if flags["update-env-vars"] then
    opts.env, err = common.env_pairs("--update-env-vars", flags["update-env-vars"])
    if not opts.env then return usage_error(err) end
  end
  if flags.tasks then
    opts.task_count, err = common.count("--tasks", flags.tasks)
    if not opts.task_count then return usage_error(err) end
  end
  if flags["task-timeout"] then
    opts.timeout, err = common.duration("--task-timeout", flags["task-timeout"])
    if not opts.timeout then return usage_error(err) end
  end
  opts.container = flags.container

  local client
  client, err = common.client(flags)
  if not client then return api_failure(err) end
  local op
  op, err = client:run_job(pos[1], opts)
  if not op then return api_failure(err) end
  local id = common.short(op.execution)
  if not flags.format then say("Execution [", id, "] created.") end

  if flags.async then
    if flags.format then common.print_json(op) end
    return common.OK
  end
  local execution
  if flags.wait then
    execution, err = client:wait(op, {
      on_progress = not flags.format and function(e)
        say(string.format("  %d running, %d succeeded, %d failed of %d task(s)",
          e.runningCount or 0, e.succeededCount or 0, e.failedCount or 0, e.taskCount or 0))
      end or nil,
    })
  else
    -- gcloud's default: return once the execution has started running
    repeat
      execution, err = client:get_execution(op.execution)
      if not execution then break end
      if execution.startTime or wait.finished(execution) then break end
      core.sleep(0.2)
    until false
  end
  if not execution then return api_failure(err) end
  if flags.format then common.print_json(execution) end
  if not flags.wait then
    if not flags.format then say("Execution [", id, "] has successfully started running.") end
    return common.OK
  end
  if succeeded(execution) then
    if not flags.format then say("Execution [", id, "] has successfully completed.") end
    return common.OK
  end
  local _, message = common.condition(execution, "Completed")
  if not flags.format then say("Execution [", id, "] failed: ", message or "see its tasks") end
  return common.FAILED
end

-- ---- create --------------------------------------------------------------------

_M.create_flags = {
  image = "value", command = "value", args = "value", tasks = "value", parallelism = "value",
  ["max-retries"] = "value", ["task-timeout"] = "value", ["set-env-vars"] = "value",
  ["service-account"] = "value", async = "bool",
}

--- The Job (REST form) that gcloud's flags describe.
local function job_spec(flags)
  local container = { image = flags.image }
  local err
  if flags.command then container.command = common.split_list(flags.command) end
  if flags.args then container.args = common.split_list(flags.args) end
  if flags["set-env-vars"] then
    container.env, err = common.env_pairs("--set-env-vars", flags["set-env-vars"])
    if not container.env then return nil, err end
  end
  local task = { containers = { container }, serviceAccount = flags["service-account"] }
  local template = { template = task }
  if flags.tasks then
    template.taskCount, err = common.count("--tasks", flags.tasks)
    if not template.taskCount then return nil, err end
  end
  if flags.parallelism then
    template.parallelism, err = common.count("--parallelism", flags.parallelism, 0)
    if not template.parallelism then return nil, err end
  end
  if flags["max-retries"] then
    task.maxRetries, err = common.count("--max-retries", flags["max-retries"], 0)
    if not task.maxRetries then return nil, err end
  end
  if flags["task-timeout"] then
    local secs
    secs, err = common.duration("--task-timeout", flags["task-timeout"])
    if not secs then return nil, err end
    task.timeout = string.format("%ds", math.floor(secs))
  end
  return { template = template }
end

function _M.create(args)
  local pos, flags = common.parse(args, 3, _M.create_flags)
  if not pos then return usage_error(flags) end
  if #pos ~= 1 then return usage_error("jobs create takes exactly one JOB") end
  if not flags.image then return usage_error("jobs create needs --image") end
  local spec, err = job_spec(flags)
  if not spec then return usage_error(err) end
  local client
  client, err = common.client(flags)
  if not client then return api_failure(err) end
  local op
  op, err = client:create_job(pos[1], spec)
  if not op then return api_failure(err) end
  if not flags.async and not op.done then
    op, err = client:wait_operation(op, 60)
    if not op then return api_failure(err) end
  end
  if op.error then return api_failure(core.error("UNKNOWN", tostring(op.error.message))) end
  if flags.format then
    common.print_json(op.response or op)
  else
    say("Job [", pos[1], "] has successfully been created.")
  end
  return common.OK
end

-- ---- describe / delete / list ---------------------------------------------------

function _M.describe(args)
  local client, name, flags = common.one(args, 3, {}, "jobs describe", "JOB")
  if not client then return name end
  local job, err = client:get_job(name)
  if not job then return api_failure(err) end
  if flags.format then common.print_json(job) return common.OK end
  local t = job.template or {}
  local task = t.template or {}
  local c = (task.containers or {})[1] or {}
  local latest = job.latestCreatedExecution or {}
  common.fields{
    { "Job", common.short(job.name) },
    { "Name", job.name },
    { "Image", c.image },
    { "Command", c.command and table.concat(c.command, " ") },
    { "Args", c.args and table.concat(c.args, " ") },
    { "Tasks", t.taskCount or 1 },
    { "Parallelism", t.parallelism },
    { "Max retries", task.maxRetries },
    { "Task timeout", task.timeout },
    { "Executions", job.executionCount or 0 },
    { "Last execution",
      latest.name and (common.short(latest.name) .. " (" .. tostring(latest.completionStatus) .. ")") },
    { "Created", job.createTime },
  }
  return common.OK
end

function _M.delete(args)
  local client, name, flags = common.one(args, 3, { async = "bool" }, "jobs delete", "JOB")
  if not client then return name end
  local op, err = client:delete_job(name)
  if not op then return api_failure(err) end
  if flags.format then common.print_json(op) else say("Deleted job [", name, "].") end
  return common.OK
end

function _M.list(args)
  return common.list(args, 3, {}, {
    check = function(pos) return #pos ~= 0 and "jobs list takes no arguments" or nil end,
    each = function(client) return client:each_jobs() end,
    header = { "JOB", "REGION", "LAST RUN AT", "LAST STATUS", "CREATED" },
    row = function(j)
      local latest = j.latestCreatedExecution or {}
      return { common.short(j.name), j.name:match("locations/([^/]+)") or "", latest.createTime or "",
        latest.completionStatus or "", j.createTime or "" }
    end,
  })
end

return _M
