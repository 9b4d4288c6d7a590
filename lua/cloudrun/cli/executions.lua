--- cloudrun jobs executions list|describe|cancel|delete|wait, and
-- cloudrun jobs executions tasks list|describe — as gcloud run jobs executions.
local cloudrun = require("cloudrun")
local common = require("cloudrun.cli.common")
local listing = require("cloudrun.cli.list")
local progress = require("cloudrun.cli.progress")

local tostring, ipairs = tostring, ipairs
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

local function list(ctx)
  return listing.run(ctx, {
    each = function(client, flags, opts) return client:each_executions(flags.job, opts) end,
    header = { "EXECUTION", "JOB", "SUCCEEDED", "STATUS", "CREATED" },
    row = function(e)
      return { common.short(e.name), tostring(e.job), ("%d/%d"):format(e.succeededCount or 0, e.taskCount or 0),
        status(e) or "", e.createTime or "" }
    end,
  })
end

local function describe(ctx)
  local client, err = ctx:client()
  if not client then return api_failure(err) end
  local e
  e, err = client:get_execution(ctx.pos[1])
  if not e then return api_failure(err) end
  if ctx.flags.format then common.print(ctx.flags, e) else describe_execution(e) end
  return common.OK
end

local function cancel(ctx)
  local name = ctx.pos[1]
  local client, err = ctx:client()
  if not client then return api_failure(err) end
  local op
  op, err = client:cancel_execution(name)
  if not op then return api_failure(err) end
  if not ctx.flags.async then
    local e
    e, err = client:wait(op.execution or op, { timeout = 120 })
    if not e then return api_failure(err) end
    op = e
  end
  if ctx.flags.format then
    common.print(ctx.flags, op)
  else
    say("Execution [", common.short(name), "] has been cancelled.")
  end
  return common.OK
end

local function delete(ctx)
  local name = ctx.pos[1]
  local go, status_code = common.confirm(ctx, "Execution [" .. common.short(name) .. "] will be deleted.")
  if not go then return status_code end
  local client, err = ctx:client()
  if not client then return api_failure(err) end
  local op
  op, err = client:delete_execution(name)
  if not op then return api_failure(err) end
  if not ctx.flags.async and not op.done then
    op, err = client:wait_operation(op, 120)
    if not op then return api_failure(err) end
  end
  if op.error then return api_failure(common.operation_error(op)) end
  if ctx.flags.format then common.print(ctx.flags, op) else say("Deleted execution [", common.short(name), "].") end
  return common.OK
end

local INTERRUPTED = 130 -- as a shell reports a command stopped by Ctrl-C

--[[
wait EXECUTION...: one is followed as `jobs execute --wait` follows it; several
with client:wait_all, a line each as it ends. --format prints the final
Executions (one: the resource; several: the list). Exit 130 on Ctrl-C, else 3
when one could not be waited for (not found, the API), else 1 when one failed
or was cancelled.
]]
local function wait_executions(ctx)
  local names = ctx.pos
  local client, err = ctx:client()
  if not client then return api_failure(err) end
  if #names == 1 then
    local id = common.short(names[1])
    local e, ferr, why = progress.follow(client, names[1])
    if why == "interrupted" then
      progress.interrupted(id)
      return INTERRUPTED
    end
    if not e then return api_failure(ferr) end
    if ctx.flags.format then common.print(ctx.flags, e) end
    return progress.report(client, e, id) and common.OK or common.FAILED
  end
  local executions, failed, interrupted = progress.follow_all(client, names)
  if interrupted then
    progress.interrupted_all(executions, names)
    return INTERRUPTED
  end
  local done, refused = {}, 0
  for i, e in ipairs(executions) do
    if cloudrun.is_error(e) then
      refused = refused + 1
      say("ERROR: ", common.short(names[i]), ": ", tostring(e))
    else
      done[#done + 1] = e
    end
  end
  say(("%d execution(s): %d succeeded, %d failed%s."):format(#executions, #executions - failed, failed - refused,
    refused > 0 and (", " .. refused .. " could not be waited for") or ""))
  if ctx.flags.format then common.print(ctx.flags, done, true) end
  if refused > 0 then return common.API end
  return failed > 0 and common.FAILED or common.OK
end

-- ---- tasks ----------------------------------------------------------------------

local function task_status(t)
  local state = common.condition(t, "Completed")
  return state or ""
end

local function tasks_list(ctx)
  return listing.run(ctx, {
    each = function(client, flags, opts) return client:each_tasks(flags.execution, opts) end,
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

local function tasks_describe(ctx)
  local client, err = ctx:client()
  if not client then return api_failure(err) end
  local t
  t, err = client:get_task(ctx.pos[1])
  if not t then return api_failure(err) end
  if ctx.flags.format then common.print(ctx.flags, t) return common.OK end
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

_M.commands = {
  {
    path = { "jobs", "executions", "list" }, run = list,
    summary = "List executions, newest first: of one job (--job), or of every job of the region.",
    flags = listing.with{ { "job", "JOB", "only this job's executions" } },
  },
  {
    path = { "jobs", "executions", "describe" }, args = { "EXECUTION" }, run = describe,
    summary = "Show an execution: its tasks' counts, status and times.",
  },
  {
    path = { "jobs", "executions", "cancel" }, args = { "EXECUTION" }, run = cancel,
    summary = "Cancel a running execution, and wait until it has stopped.",
    flags = { { "async", false, "return once the cancellation is requested" } },
  },
  {
    path = { "jobs", "executions", "delete" }, args = { "EXECUTION" }, run = delete,
    summary = "Delete an execution, stopping it if it runs (asks first; --quiet does not).",
    flags = { { "async", false, "return without waiting for the deletion to finish" } },
  },
  {
    path = { "jobs", "executions", "wait" }, args = { "EXECUTION..." }, run = wait_executions,
    summary = "Wait for executions to finish; exit 1 when one failed.",
    details = "With one execution, progress as 'jobs execute --wait' shows it; with several (of any jobs), a line\n"
      .. "for each as it ends, one ListExecutions per job every poll. Exit 1 when one failed or was cancelled, 3\n"
      .. "when one could not be waited for (not found), 130 when Ctrl-C stopped the waiting (the executions go on).",
  },
  {
    path = { "jobs", "executions", "tasks", "list" }, run = tasks_list,
    summary = "List an execution's tasks with their status, exit code and log.",
    flags = listing.with{ { "execution", "EXECUTION", "the execution whose tasks to list", required = true } },
  },
  {
    path = { "jobs", "executions", "tasks", "describe" }, args = { "TASK" }, run = tasks_describe,
    summary = "Show one task: its status, exit code, retries and log.",
  },
}

return _M
