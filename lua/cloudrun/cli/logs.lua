--- cloudrun jobs executions logs EXECUTION [--task N] [--follow] — an
-- execution's logs from Cloud Logging (entries:list, the same credentials),
-- with the filter gcloud uses for a Cloud Run job execution. The emulator
-- answers entries:list itself from its task logs, so this works against it too.
local common = require("cloudrun.cli.common")
local core = require("cloudrun.core")
local wait = require("cloudrun.wait")

local io, os, ipairs, type, tostring, concat = io, os, ipairs, type, tostring, table.concat

local _M = {}

local LOGGING = "https://logging.googleapis.com"

--- Where Cloud Logging is: gcloud's override, the emulator a client talks to, or Google.
function _M.endpoint(client)
  local override = os.getenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_LOGGING")
  if override and override ~= "" then
    return (override:gsub("/+$", ""):gsub("/v2$", ""))
  end
  local endpoint, anonymous = client:endpoint()
  if anonymous then return endpoint end -- the emulator serves entries:list too
  return LOGGING
end

--- The filter for one execution's entries (and one task's), as gcloud writes it.
function _M.filter(project, location, job, execution, task, after)
  local parts = {
    'resource.type = "cloud_run_job"',
    ('resource.labels.project_id = "%s"'):format(project),
    ('resource.labels.location = "%s"'):format(location),
    ('resource.labels.job_name = "%s"'):format(job),
    ('labels."run.googleapis.com/execution_name" = "%s"'):format(execution),
  }
  if task then parts[#parts + 1] = ('labels."run.googleapis.com/task_index" = "%d"'):format(task) end
  if after then parts[#parts + 1] = ('timestamp > "%s"'):format(after) end
  return concat(parts, " AND ")
end

-- One line of a log entry: when, which task, what.
local function line(entry)
  local labels = entry.labels or {}
  local task = labels["run.googleapis.com/task_index"]
  local text = entry.textPayload
  if text == nil and type(entry.jsonPayload) == "table" then
    text = entry.jsonPayload.message or core.json_encode(entry.jsonPayload)
  end
  return ("%s  %s%s"):format(entry.timestamp or entry.receiveTimestamp or "-",
    task and ("task " .. task .. "  ") or "", (tostring(text or ""):gsub("\n$", "")))
end

-- Every entry after `after` (a timestamp, or nil), across pages; or nil, err.
local function fetch(client, base, project, filter, limit)
  local out, token = {}, nil
  repeat
    local body = { resourceNames = setmetatable({ "projects/" .. project }, core.array_mt), filter = filter,
      orderBy = "timestamp asc", pageSize = 1000, pageToken = token }
    local page, err = client._core:call("POST", "entries:list", nil, body, { base = base, read = true })
    if not page then return nil, err end
    for _, e in ipairs(page.entries or {}) do
      out[#out + 1] = e
      if limit and #out >= limit then return out end
    end
    token = page.nextPageToken
  until not token or token == ""
  return out
end

local function run(ctx)
  local flags = ctx.flags
  local task, limit, err
  if flags.task then
    task, err = common.count("--task", flags.task, 0)
    if not task then return ctx:usage(err) end
  end
  if flags.limit then
    limit, err = common.count("--limit", flags.limit)
    if not limit then return ctx:usage(err) end
  end
  if flags.follow and flags.format then return ctx:usage("--follow prints lines: it does not take --format") end
  local client
  client, err = ctx:client()
  if not client then return common.api_failure(err) end
  local name
  name, err = client:execution_name(ctx.pos[1])
  if not name then return common.api_failure(err) end
  local project, location, job, execution =
    name:match("^projects/([^/]+)/locations/([^/]+)/jobs/([^/]+)/executions/([^/]+)$")
  local base = _M.endpoint(client)
  local seen, last = {}, nil
  local function show(entries)
    for _, e in ipairs(entries) do
      local id = e.insertId or (tostring(e.timestamp) .. tostring(e.textPayload))
      if not seen[id] then
        seen[id] = true
        io.stdout:write(line(e), "\n")
        last = e.timestamp or last
      end
    end
    io.stdout:flush()
  end
  local entries
  entries, err = fetch(client, base, project, _M.filter(project, location, job, execution, task), limit)
  if not entries then return common.api_failure(err) end
  if flags.format then
    common.print(flags, setmetatable(entries, core.array_mt), true)
    return common.OK
  end
  show(entries)
  if not flags.follow then return common.OK end
  -- follow: gently, until the execution is done and its last lines are in
  core.catch_interrupt()
  local done = false
  while true do
    if core.sleep(2) or core.interrupted() then return common.OK end
    local e = client:get_execution(name)
    entries, err = fetch(client, base, project, _M.filter(project, location, job, execution, task, last))
    if not entries then return common.api_failure(err) end
    show(entries)
    if done then return common.OK end
    done = e and wait.finished(e) -- one more round after the end: late lines
  end
end

_M.commands = {
  {
    path = { "jobs", "executions", "logs" }, args = { "EXECUTION" }, run = run,
    summary = "Print an execution's logs (Cloud Logging; the emulator's own task logs against it).",
    flags = {
      { "task", "N", "only this task's lines (its index)" },
      { "follow", false, "keep printing new lines until the execution is done (Ctrl-C stops)" },
      common.limit_flag,
    },
  },
}

return _M
