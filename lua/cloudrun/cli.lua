--- cloudrun.cli — the `cloudrun` command, with gcloud's habits:
--   cloudrun jobs execute JOB [--args=a,b] [--update-env-vars=K=V,...] [--tasks N]
--                             [--task-timeout 10m] [--container NAME] [--wait|--async] [--format json]
--   cloudrun jobs executions describe EXECUTION
--   cloudrun auth print-access-token
--   cloudrun emulator ...            (handled in C before Lua starts)
-- Each command returns an exit status: 0 ok, 1 the execution failed (--wait),
-- 2 bad usage, 3 the API or credentials refused or failed. Only main's caller exits.
local cloudrun = require("cloudrun")
local core = require("cloudrun.core")
local wait = require("cloudrun.wait")

local io, string, table, tostring, tonumber, ipairs, type = io, string, table, tostring, tonumber, ipairs, type

local _M = {}

local USAGE = [[
usage: cloudrun <group> <command> [flags]

  cloudrun jobs execute JOB [--project P] [--region R] [--args=a,b,c]
                            [--update-env-vars=K=V,...] [--tasks N] [--task-timeout 10m]
                            [--container NAME] [--wait | --async] [--format json]
  cloudrun jobs executions describe EXECUTION [--project P] [--region R] [--format json]
  cloudrun auth print-access-token
  cloudrun emulator [--host 127.0.0.1] [--port 8123] [--jobs FILE] [--log-dir DIR]
  cloudrun version

Project and region default to $GOOGLE_CLOUD_PROJECT / $CLOUDSDK_CORE_PROJECT and
$CLOUDSDK_RUN_REGION. With $CLOUD_RUN_EMULATOR_HOST set, requests go to the emulator.
Exit status: 0 success, 1 the execution failed (--wait), 2 bad usage, 3 API or credentials error.]]

local function say(...) io.stderr:write(...) io.stderr:write("\n") end

local function usage_error(msg)
  say("cloudrun: ", msg)
  say("run 'cloudrun help' for usage")
  return 2
end

-- Splits argv into positionals and --flags. `spec` maps flag -> "value" | "bool".
local function parse(args, first, spec)
  local pos, flags = {}, {}
  local i = first
  while i <= #args do
    local a = args[i]
    if a == "--" then
      for j = i + 1, #args do pos[#pos + 1] = args[j] end
      break
    elseif a:sub(1, 2) == "--" then
      local name, value = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
      local kind = spec[name]
      if not kind then return nil, "unknown flag --" .. name end
      if kind == "bool" then
        if value then return nil, "flag --" .. name .. " takes no value" end
        flags[name] = true
      else
        if not value then
          i = i + 1
          value = args[i]
          if value == nil then return nil, "flag --" .. name .. " needs a value" end
        end
        flags[name] = value
      end
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  return pos, flags
end

-- gcloud's list flags: a,b,c (no escaping; gcloud's ^DELIM^ form is accepted too).
local function split_list(s)
  local delim = ","
  local custom, rest = s:match("^%^(.-)%^(.*)$")
  if custom then delim, s = custom, rest end
  local out, start = {}, 1
  if s == "" then return out end
  while true do
    local a, b = s:find(delim, start, true)
    if not a then out[#out + 1] = s:sub(start) break end
    out[#out + 1] = s:sub(start, a - 1)
    start = b + 1
  end
  return out
end

local function make_client(flags)
  local c, err = cloudrun.client{ project = flags.project, region = flags.region }
  if not c then return nil, err end
  return c
end

local function api_failure(err)
  say("ERROR: ", tostring(err))
  return 3
end

local function short(name)
  return (name and name:match("([^/]+)$")) or tostring(name)
end

local function print_json(value)
  io.stdout:write(core.json_encode(value, true), "\n")
end

-- The Completed condition's state and message, for a human summary.
local function outcome(e)
  for _, c in ipairs(e.conditions or {}) do
    if c.type == "Completed" then return c.state, c.message end
  end
  return nil
end

local function describe_execution(e)
  local lines = {
    "Execution:  " .. short(e.name),
    "Job:        " .. tostring(e.job),
    "Tasks:      " .. tostring(e.taskCount or 0) .. " (" .. tostring(e.succeededCount or 0) .. " succeeded, "
      .. tostring(e.failedCount or 0) .. " failed, " .. tostring(e.cancelledCount or 0) .. " cancelled, "
      .. tostring(e.runningCount or 0) .. " running)",
  }
  local state, message = outcome(e)
  if state then lines[#lines + 1] = "Status:     " .. state .. (message and (" — " .. message) or "") end
  if e.createTime then lines[#lines + 1] = "Created:    " .. e.createTime end
  if e.completionTime then lines[#lines + 1] = "Completed:  " .. e.completionTime end
  if e.logUri then lines[#lines + 1] = "Logs:       " .. e.logUri end
  io.stdout:write(table.concat(lines, "\n"), "\n")
end

local function succeeded(e)
  local state = outcome(e)
  if state then return state == "CONDITION_SUCCEEDED" end
  return (e.failedCount or 0) == 0 and (e.cancelledCount or 0) == 0
end

local execute_flags = {
  project = "value", region = "value", args = "value", ["update-env-vars"] = "value",
  tasks = "value", ["task-timeout"] = "value", container = "value", wait = "bool",
  async = "bool", format = "value",
}

local function jobs_execute(args)
  local pos, flags = parse(args, 3, execute_flags)
  if not pos then return usage_error(flags) end
  if #pos ~= 1 then return usage_error("jobs execute takes exactly one JOB") end
  if flags.wait and flags.async then return usage_error("--wait and --async cannot be used together") end
  if flags.format and flags.format ~= "json" then return usage_error("--format must be json") end
  local opts = {}
  if flags.args then opts.args = split_list(flags.args) end
  if flags["update-env-vars"] then
    opts.env = {}
    for _, kv in ipairs(split_list(flags["update-env-vars"])) do
      local k, v = kv:match("^([^=]+)=(.*)$")
      if not k then return usage_error("--update-env-vars expects KEY=VALUE pairs, got '" .. kv .. "'") end
      opts.env[#opts.env + 1] = { name = k, value = v }
    end
  end
  if flags.tasks then
    local n = tonumber(flags.tasks)
    if not n or n < 1 or n % 1 ~= 0 then return usage_error("--tasks must be a positive integer") end
    opts.task_count = n
  end
  if flags["task-timeout"] then
    local secs = core.duration(flags["task-timeout"])
    if not secs or secs <= 0 then
      return usage_error("--task-timeout: '" .. flags["task-timeout"] .. "' is not a duration (e.g. 600, 10m, 1h30m)")
    end
    opts.timeout = secs
  end
  opts.container = flags.container

  local client, err = make_client(flags)
  if not client then return api_failure(err) end
  local op
  op, err = client:run_job(pos[1], opts)
  if not op then return api_failure(err) end
  local id = short(op.execution)
  if not flags.format then say("Execution [", id, "] created.") end

  if flags.async then
    if flags.format then print_json(op) end
    return 0
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
  if flags.format then print_json(execution) end
  if not flags.wait then
    if not flags.format then say("Execution [", id, "] has successfully started running.") end
    return 0
  end
  if succeeded(execution) then
    if not flags.format then say("Execution [", id, "] has successfully completed.") end
    return 0
  end
  local _, message = outcome(execution)
  if not flags.format then say("Execution [", id, "] failed: ", message or "see its tasks") end
  return 1
end

local function executions_describe(args)
  local pos, flags = parse(args, 4, { project = "value", region = "value", format = "value" })
  if not pos then return usage_error(flags) end
  if #pos ~= 1 then return usage_error("jobs executions describe takes exactly one EXECUTION") end
  local client, err = make_client(flags)
  if not client then return api_failure(err) end
  local e
  e, err = client:get_execution(pos[1])
  if not e then return api_failure(err) end
  if flags.format == "json" then print_json(e) else describe_execution(e) end
  return 0
end

local function print_access_token(args)
  local pos, flags = parse(args, 3, {})
  if not pos then return usage_error(flags) end
  local creds, err = cloudrun.auth.default()
  if not creds then return api_failure(err) end
  local token
  token, err = creds:token()
  if not token then return api_failure(err) end
  io.stdout:write(token, "\n")
  return 0
end

--- main(arg) -> exit status. arg[1..] are the command line words.
function _M.main(args)
  local group, command = args[1], args[2]
  if group == nil or group == "help" or group == "--help" or group == "-h" then
    io.stdout:write(USAGE, "\n")
    return group == nil and 2 or 0
  elseif group == "version" or group == "--version" then
    io.stdout:write("cloudrun (lua-cloudrun) ", cloudrun._VERSION, "\n")
    return 0
  elseif group == "jobs" and command == "execute" then
    return jobs_execute(args)
  elseif group == "jobs" and command == "executions" and args[3] == "describe" then
    return executions_describe(args)
  elseif group == "auth" and command == "print-access-token" then
    return print_access_token(args)
  end
  return usage_error("unknown command '" .. table.concat(args, " ", 1, math.min(#args, 3)) .. "'")
end

return _M
