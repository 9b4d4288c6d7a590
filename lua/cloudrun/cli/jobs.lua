--- cloudrun jobs create|update|deploy|describe|delete|list — as gcloud run jobs
-- (`jobs execute` is cli/execute.lua: a one-shot trigger loads none of this).
local common = require("cloudrun.cli.common")
local execute = require("cloudrun.cli.execute")
local flag_groups = require("cloudrun.cli.flag_groups")
local listing = require("cloudrun.cli.list")
local spec = require("cloudrun.cli.spec")

local tostring, type, concat = tostring, type, table.concat
local say, api_failure = common.say, common.api_failure

local _M = {}

-- ---- create / update / deploy ----------------------------------------------------

-- Waits for a job operation (unless --async) and reports it.
local function finish_job_op(ctx, client, op, verb)
  local err
  if not ctx.flags.async and not op.done then
    op, err = client:wait_operation(op, 60)
    if not op then return api_failure(err) end
  end
  if op.error then return api_failure(common.operation_error(op)) end
  if ctx.flags["execute-now"] then
    local run
    run, err = client:run_job(ctx.pos[1])
    if not run then return api_failure(err) end
    say("Job [", ctx.pos[1], "] has successfully been ", verb, ".")
    return execute.after_run(ctx, client, run)
  end
  if ctx.flags.format then
    common.print(ctx.flags, op.response or op)
  else
    say("Job [", ctx.pos[1], "] has successfully been ", verb, ".")
  end
  return common.OK
end

local function check_execute_now(ctx)
  if ctx.flags.wait and not ctx.flags["execute-now"] then return "--wait goes with --execute-now" end
  if ctx.flags.wait and ctx.flags.async then return "--wait and --async cannot be used together" end
end

-- The line's template flags (gcloud's --container groups too) applied to job.
-- Returns the job, or nil and the exit status once the problem is reported.
-- `client` is the command's, or nil: one is made when the job's place must be known.
local function apply_flags(ctx, job, creating, client)
  local flags, groups = ctx.flags, nil
  local containers, top = flag_groups.parse_containers(ctx.words or {}, ctx.command.flags, spec.per_container,
    "the job's")
  if containers then
    flags, groups = top, containers
  elseif top then
    return nil, ctx:usage(top)
  end
  local function where()
    local err
    if not client then
      client, err = ctx:client()
      if not client then return nil, err end
    end
    local name
    name, err = client:job_name(ctx.pos[1])
    if not name then return nil, err end
    return name:match("^projects/([^/]+)/locations/([^/]+)/")
  end
  local changed, err = spec.apply(job, flags, { creating = creating, containers = groups, where = where })
  if changed then return changed end
  if type(err) == "table" then return nil, api_failure(err) end
  return nil, ctx:usage(err)
end

local function create(ctx)
  local problem = check_execute_now(ctx)
  if problem then return ctx:usage(problem) end
  local job, status = apply_flags(ctx, {}, true)
  if not job then return status end
  local client, err = ctx:client()
  if not client then return api_failure(err) end
  local op
  op, err = client:create_job(ctx.pos[1], job)
  if not op then return api_failure(err) end
  return finish_job_op(ctx, client, op, "created")
end

-- Update: the job as it is, changed by the flags, sent back whole.
local function update_from(ctx, client, job)
  local changed, status = apply_flags(ctx, spec.for_update(job), false, client)
  if not changed then return status end
  local op, err
  op, err = client:update_job(ctx.pos[1], changed)
  if not op then return api_failure(err) end
  return finish_job_op(ctx, client, op, "updated")
end

local function update(ctx)
  local problem = check_execute_now(ctx)
  if problem then return ctx:usage(problem) end
  local client, err = ctx:client()
  if not client then return api_failure(err) end
  local job
  job, err = client:get_job(ctx.pos[1])
  if not job then return api_failure(err) end
  return update_from(ctx, client, job)
end

-- Deploy: update the job when it exists, create it when it does not.
local function deploy(ctx)
  local problem = check_execute_now(ctx)
  if problem then return ctx:usage(problem) end
  local client, err = ctx:client()
  if not client then return api_failure(err) end
  local job
  job, err = client:get_job(ctx.pos[1])
  if job then return update_from(ctx, client, job) end
  if err.code ~= "NOT_FOUND" then return api_failure(err) end
  local fresh, status = apply_flags(ctx, {}, true, client)
  if not fresh then return status end
  local op
  op, err = client:create_job(ctx.pos[1], fresh)
  if not op then return api_failure(err) end
  return finish_job_op(ctx, client, op, "created")
end

-- ---- describe / delete / list ---------------------------------------------------

local function describe(ctx)
  local client, err = ctx:client()
  if not client then return api_failure(err) end
  local job
  job, err = client:get_job(ctx.pos[1])
  if not job then return api_failure(err) end
  if ctx.flags.format then common.print(ctx.flags, job) return common.OK end
  local t = job.template or {}
  local task = t.template or {}
  local c = (task.containers or {})[1] or {}
  local latest = job.latestCreatedExecution or {}
  -- lists as gcloud's flags take them back (a,b,c), key=value pairs sorted
  local function pairs_text(list)
    local out = {}
    for k, v in pairs(list or {}) do out[#out + 1] = tostring(k) .. "=" .. tostring(v) end
    table.sort(out)
    return #out > 0 and concat(out, ",") or nil
  end
  local env = {}
  for _, e in ipairs(c.env or {}) do
    env[#env + 1] = tostring(e.name) .. "=" .. (e.value ~= nil and tostring(e.value) or "(from a secret)")
  end
  local limits = (c.resources or {}).limits
  common.fields{
    { "Job", common.short(job.name) },
    { "Name", job.name },
    { "Image", c.image },
    { "Command", c.command and concat(c.command, ",") },
    { "Args", c.args and concat(c.args, ",") },
    { "Env", #env > 0 and concat(env, ",") or nil },
    { "Labels", pairs_text(job.labels) },
    { "Limits", pairs_text(limits) },
    { "Service account", task.serviceAccount },
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
  if ctx.flags.format then common.print(ctx.flags, op) else say("Deleted job [", name, "].") end
  return common.OK
end

local function list(ctx)
  return listing.run(ctx, {
    each = function(client, _, opts) return client:each_jobs(opts) end,
    header = { "JOB", "REGION", "LAST RUN AT", "LAST STATUS", "CREATED" },
    row = function(j)
      local latest = j.latestCreatedExecution or {}
      return { common.short(j.name), j.name:match("locations/([^/]+)") or "", latest.createTime or "",
        latest.completionStatus or "", j.createTime or "" }
    end,
  })
end

-- The template flags and what every create/update/deploy also takes.
local function with_run_flags(template_flags, async_help)
  local out = {}
  for i, f in ipairs(template_flags) do out[i] = f end
  out[#out + 1] = { "execute-now", false, "run the job at once, as `jobs execute` would" }
  out[#out + 1] = { "wait", false, "with --execute-now: wait for the execution to finish; exit 1 when it failed" }
  out[#out + 1] = { "async", false, async_help }
  return out
end

_M.commands = {
  {
    path = { "jobs", "create" }, args = { "JOB" }, run = create,
    summary = "Create a job that runs an image's command.",
    details = spec.per_container_help(),
    flags = with_run_flags(spec.flags_for("create"), "return without waiting for the job to be ready"),
  },
  {
    path = { "jobs", "update" }, args = { "JOB" }, run = update,
    summary = "Change a job's settings (the flags given; the rest as it is).",
    details = spec.per_container_help(),
    flags = with_run_flags(spec.flags_for("update"), "return without waiting for the change to be done"),
  },
  {
    path = { "jobs", "deploy" }, args = { "JOB" }, run = deploy,
    summary = "Create a job, or update it when it exists.",
    details = spec.per_container_help(),
    flags = with_run_flags(spec.flags_for("deploy"), "return without waiting for the job to be ready"),
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
    flags = listing.flags,
  },
}

return _M
