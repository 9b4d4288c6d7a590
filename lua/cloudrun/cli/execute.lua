--- cloudrun jobs execute — as gcloud run jobs execute: one execution of a job,
-- with per-execution overrides. A module of its own: the one-shot trigger
-- loads only what it needs (cli/init.lua loads a command's module when the
-- line names it).
local cloudrun = require("cloudrun")
local common = require("cloudrun.cli.common")
local core = require("cloudrun.core")
-- loaded when the line needs them: --container groups; waiting for the execution
local flag_groups = cloudrun._lazy("cloudrun.cli.flag_groups")
local progress = cloudrun._lazy("cloudrun.cli.progress")
local wait = cloudrun._lazy("cloudrun.wait")

local tostring, ipairs = tostring, ipairs
local say, api_failure = common.say, common.api_failure

local _M = {}

local INTERRUPTED = 130 -- as a shell reports a command stopped by Ctrl-C

--[[
After a RunJob: --async returns at once; the default waits until the
execution has started (as gcloud); --wait follows it to the end with
progress, then says how it went (exit 1 when it failed).
]]
function _M.after_run(ctx, client, op)
  local flags = ctx.flags
  local id = common.short(op.execution)
  -- what is said goes to stderr, as gcloud's; stdout has only --format's output
  if op.deduplicated then
    say("Execution [", id, "] ", op.recovered and "was created (its answer was lost, the key found it)."
      or "already exists for idempotency key [" .. tostring(flags["idempotency-key"]) .. "]: nothing started.")
  else
    say("Execution [", id, "] created.")
  end
  if flags.async then
    if flags.format then common.print(flags, op) end
    return common.OK
  end
  local execution, err, why
  if flags.wait then
    execution, err, why = progress.follow(client, op.execution)
  else
    -- gcloud's default: return once the execution has started running
    repeat
      execution, err = client:get_execution(op.execution)
      if not execution then break end
      if execution.startTime or wait.finished(execution) then break end
      core.sleep(0.2)
    until false
  end
  if why == "interrupted" then
    progress.interrupted(id)
    return INTERRUPTED
  end
  if not execution then return api_failure(err) end
  if flags.format then common.print(flags, execution) end
  if not flags.wait then
    say("Execution [", id, "] has successfully started running.")
    return common.OK
  end
  return progress.report(client, execution, id) and common.OK or common.FAILED
end

-- gcloud's per-container flags of execute: after --container NAME they are that container's.
local CONTAINER_FLAGS = { "args", "update-env-vars" }

-- One container's overrides (run_job's args, env, clear_args) from its flags.
local function container_overrides(flags)
  local o, err = {}
  if flags.args == "" then
    o.clear_args = true -- gcloud: --args= (empty) clears the container's args
  elseif flags.args then
    o.args = common.split_list(flags.args)
  end
  if flags["update-env-vars"] then
    o.env, err = common.env_pairs("--update-env-vars", flags["update-env-vars"])
    if not o.env then return nil, err end
  end
  return o
end

-- gcloud's --container groups (flag_groups.parse_containers) as run_job's
-- `containers` table: nil when the line has no --container, or nil, message.
-- A group must override something.
local function container_groups(ctx)
  if ctx.flags.container == nil then return nil end -- no --container on the line
  local per = {}
  for _, f in ipairs(CONTAINER_FLAGS) do per[f] = true end
  local groups, err = flag_groups.parse_containers(ctx.words or {}, ctx.command.flags, per, "the execution's")
  if not groups then return nil, err end
  local containers = {}
  for _, g in ipairs(groups) do
    local given = false
    for _, f in ipairs(CONTAINER_FLAGS) do given = given or g.flags[f] ~= nil end
    if not given then
      return nil, "--container " .. g.name .. " overrides nothing: give --args or --update-env-vars after it"
    end
    containers[g.name], err = container_overrides(g.flags)
    if not containers[g.name] then return nil, err end
  end
  return containers
end

local function execute(ctx)
  local flags = ctx.flags
  if flags.wait and flags.async then return ctx:usage("--wait and --async cannot be used together") end
  local containers, err = container_groups(ctx)
  if err then return ctx:usage(err) end
  local opts
  if containers then
    opts = { containers = containers }
  else
    opts, err = container_overrides(flags)
    if not opts then return ctx:usage(err) end
  end
  if flags.tasks then
    opts.task_count, err = common.count("--tasks", flags.tasks)
    if not opts.task_count then return ctx:usage(err) end
  end
  if flags["task-timeout"] then
    opts.timeout, err = common.duration("--task-timeout", flags["task-timeout"])
    if not opts.timeout then return ctx:usage(err) end
  end
  local key = flags["idempotency-key"]
  if key then
    if key == "" then return ctx:usage("--idempotency-key needs a key") end
    opts.idempotency_key = key
  end

  local client
  client, err = ctx:client()
  if not client then return api_failure(err) end
  local op
  op, err = client:run_job(ctx.pos[1], opts)
  if not op then return api_failure(err) end
  return _M.after_run(ctx, client, op)
end

_M.commands = {
  {
    path = { "jobs", "execute" }, args = { "JOB" }, run = execute,
    summary = "Run a job: start one execution, with per-execution overrides.",
    details = "By default it returns once the execution has started running; --wait follows it to the end\n"
      .. "(exit 1 when it failed), --async returns as soon as it is created. For a job with several\n"
      .. "containers, as gcloud: --tasks ... --container main --args=a,b --container sidecar --update-env-vars=K=V.",
    flags = {
      { "args", "ARG,...", "the container's args for this execution, replacing the job's (gcloud's ^DELIM^a;b form "
        .. "when an arg has a comma); --args= (empty) clears them" },
      { "update-env-vars", "KEY=VALUE,...", "environment variables for this execution, merged into the job's" },
      { "tasks", "N", "the number of tasks of this execution" },
      { "task-timeout", "DURATION", "each task's timeout for this execution (600, 10m, 1h30m)" },
      { "container", "NAME", "the --args and --update-env-vars after it, up to the next --container, are for "
        .. "container NAME (repeat it for each container to override); with it, the flags before the first "
        .. "--container are the execution's only" },
      { "idempotency-key", "KEY", "start at most one execution of the job per KEY within 24 hours: when an "
        .. "execution created with KEY is there, it is the one reported (and waited for) and nothing starts; the key "
        .. "goes to the execution as env CLOUDRUN_IDEMPOTENCY_KEY (an override: it needs run.jobs.runWithOverrides, "
        .. "and run.executions.list to look)" },
      { "wait", false, "follow the execution to its end (progress on stderr); exit 1 when it failed, 130 "
        .. "when Ctrl-C stopped the waiting (the execution goes on)" },
      { "async", false, "return as soon as the execution is created" },
    },
  },
}

return _M
