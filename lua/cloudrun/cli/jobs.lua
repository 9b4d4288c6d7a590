--- cloudrun jobs execute|create|describe|delete|list — as gcloud run jobs.
local common = require("cloudrun.cli.common")
local core = require("cloudrun.core")
local wait = require("cloudrun.wait")

local string, tostring, concat = string, tostring, table.concat
local say, api_failure = common.say, common.api_failure

local _M = {}

local function succeeded(e)
  local state = common.condition(e, "Completed")
  if state then return state == "CONDITION_SUCCEEDED" end
  return (e.failedCount or 0) == 0 and (e.cancelledCount or 0) == 0
end
_M.succeeded = succeeded

-- ---- execute -------------------------------------------------------------------

local function execute(ctx)
  local flags = ctx.flags
  if flags.wait and flags.async then return ctx:usage("--wait and --async cannot be used together") end
  local opts, err = {}
  if flags.args then opts.args = common.split_list(flags.args) end
  if flags["update-env-vars"] then
    opts.env, err = common.env_pairs("--update-env-vars", flags["update-env-vars"])
    if not opts.env then return ctx:usage(err) end
  end
  if flags.tasks then
    opts.task_count, err = common.count("--tasks", flags.tasks)
    if not opts.task_count then return ctx:usage(err) end
  end
  if flags["task-timeout"] then
    opts.timeout, err = common.duration("--task-timeout", flags["task-timeout"])
    if not opts.timeout then return ctx:usage(err) end
  end
  opts.container = flags.container

  local client
  client, err = ctx:client()
  if not client then return api_failure(err) end
  local op
  op, err = client:run_job(ctx.pos[1], opts)
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

local function create(ctx)
  local spec, err = job_spec(ctx.flags)
  if not spec then return ctx:usage(err) end
  local client
  client, err = ctx:client()
  if not client then return api_failure(err) end
  local op
  op, err = client:create_job(ctx.pos[1], spec)
  if not op then return api_failure(err) end
  if not ctx.flags.async and not op.done then
    op, err = client:wait_operation(op, 60)
    if not op then return api_failure(err) end
  end
  if op.error then return api_failure(common.operation_error(op)) end
  if ctx.flags.format then
    common.print_json(op.response or op)
  else
    say("Job [", ctx.pos[1], "] has successfully been created.")
  end
  return common.OK
end

-- ---- describe / delete / list ---------------------------------------------------

local function describe(ctx)
  local client, err = ctx:client()
  if not client then return api_failure(err) end
  local job
  job, err = client:get_job(ctx.pos[1])
  if not job then return api_failure(err) end
  if ctx.flags.format then common.print_json(job) return common.OK end
  local t = job.template or {}
  local task = t.template or {}
  local c = (task.containers or {})[1] or {}
  local latest = job.latestCreatedExecution or {}
  common.fields{
    { "Job", common.short(job.name) },
    { "Name", job.name },
    { "Image", c.image },
    { "Command", c.command and concat(c.command, " ") },
    { "Args", c.args and concat(c.args, " ") },
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

local function delete(ctx)
  local name = ctx.pos[1]
  local go, status = common.confirm(ctx, "Job [" .. name .. "] will be deleted.")
  if not go then return status end
  local client, err = ctx:client()
  if not client then return api_failure(err) end
  local op
  op, err = client:delete_job(name)
  if not op then return api_failure(err) end
  if not ctx.flags.async and not op.done then
    op, err = client:wait_operation(op, 120)
    if not op then return api_failure(err) end
  end
  if op.error then return api_failure(common.operation_error(op)) end
  if ctx.flags.format then common.print_json(op) else say("Deleted job [", name, "].") end
  return common.OK
end

local function list(ctx)
  return common.list(ctx, {
    each = function(client) return client:each_jobs() end,
    header = { "JOB", "REGION", "LAST RUN AT", "LAST STATUS", "CREATED" },
    row = function(j)
      local latest = j.latestCreatedExecution or {}
      return { common.short(j.name), j.name:match("locations/([^/]+)") or "", latest.createTime or "",
        latest.completionStatus or "", j.createTime or "" }
    end,
  })
end

_M.commands = {
  {
    path = { "jobs", "execute" }, args = { "JOB" }, run = execute,
    summary = "Run a job: start one execution, with per-execution overrides.",
    details = "By default it returns once the execution has started running; --wait follows it to the end\n"
      .. "(exit 1 when it failed), --async returns as soon as it is created.",
    flags = {
      { "args", "ARG,...", "the container's args for this execution, replacing the job's (gcloud's ^DELIM^a;b form "
        .. "when an arg has a comma)" },
      { "update-env-vars", "KEY=VALUE,...", "environment variables for this execution, merged into the job's" },
      { "tasks", "N", "the number of tasks of this execution" },
      { "task-timeout", "DURATION", "each task's timeout for this execution (600, 10m, 1h30m)" },
      { "container", "NAME", "the container the overrides are for (jobs with several containers)" },
      { "wait", false, "wait for the execution to finish; exit 1 when it failed" },
      { "async", false, "return as soon as the execution is created" },
    },
  },
  {
    path = { "jobs", "create" }, args = { "JOB" }, run = create,
    summary = "Create a job that runs an image's command.",
    flags = {
      { "image", "IMAGE", "the container image (the emulator records it; it runs --command locally)",
        required = true },
      { "command", "COMMAND,...", "the entrypoint, replacing the image's" },
      { "args", "ARG,...", "the arguments to the entrypoint" },
      { "tasks", "N", "the number of tasks each execution runs (default 1)" },
      { "parallelism", "N", "how many tasks may run at once (0: as many as possible)" },
      { "max-retries", "N", "how many times a failed task is retried (default 3)" },
      { "task-timeout", "DURATION", "each task's timeout (600, 10m, 1h30m)" },
      { "set-env-vars", "KEY=VALUE,...", "the container's environment variables" },
      { "service-account", "EMAIL", "the service account the tasks run as" },
      { "async", false, "return without waiting for the job to be ready" },
    },
  },
  {
    path = { "jobs", "describe" }, args = { "JOB" }, run = describe,
    summary = "Show a job's settings and its last execution.",
  },
  {
    path = { "jobs", "delete" }, args = { "JOB" }, run = delete,
    summary = "Delete a job and its executions (asks first; --quiet does not).",
    flags = { { "async", false, "return without waiting for the deletion to finish" } },
  },
  {
    path = { "jobs", "list" }, run = list,
    summary = "List the jobs of the region.",
    flags = { common.limit_flag },
  },
}

return _M
