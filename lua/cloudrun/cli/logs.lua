--- cloudrun jobs executions logs EXECUTION [--task N] [--follow] — an
-- execution's logs from Cloud Logging (entries:list, the same credentials),
-- with the filter gcloud uses for a Cloud Run job execution. The emulator
-- answers entries:list itself from its task logs, so this works against it too.
local common = require("cloudrun.cli.common")
local core = require("cloudrun.core")
local wait = require("cloudrun.wait")

local io, os, ipairs, pairs, type, tostring, concat, min = io, os, ipairs, pairs, type, tostring, table.concat, math.min

local _M = {}

local LOGGING = "https://logging.googleapis.com"
local INTERRUPTED = 130 -- as a shell reports a command stopped by Ctrl-C
local PAGE = 1000 -- entries a page, Cloud Logging's most

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
  -- >= and not >: a line with the same time as the last one shown may come in later (seen ones are skipped)
  if after then parts[#parts + 1] = ('timestamp >= "%s"'):format(after) end
  return concat(parts, " AND ")
end

local function str(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" or t == "boolean" then return tostring(v) end
  return nil
end

-- One line of a log entry: when, which task, what (whatever shape the server gave it).
local function line(entry)
  local labels = type(entry.labels) == "table" and entry.labels or {}
  local task = str(labels["run.googleapis.com/task_index"])
  local text = str(entry.textPayload)
  if text == nil and type(entry.jsonPayload) == "table" then
    text = str(entry.jsonPayload.message) or core.json_encode(entry.jsonPayload)
  end
  return ("%s  %s%s"):format(str(entry.timestamp) or str(entry.receiveTimestamp) or "-",
    task and ("task " .. task .. "  ") or "", (text or ""):gsub("\n$", ""))
end

local function bad_answer(what)
  return core.error("UNKNOWN", "Cloud Logging's entries:list answered " .. what)
end

-- Asks for the entries page after page and hands each page's to each(entries) as it comes, so
-- that nothing waits for the last page and nothing holds them all; stops at the last page, or
-- once `limit` entries were handed over (no page is asked past it). true, or nil, err.
local function pages(client, base, project, filter, limit, each)
  local token, tokens, count = nil, {}, 0
  repeat
    local body = { resourceNames = setmetatable({ "projects/" .. project }, core.array_mt), filter = filter,
      orderBy = "timestamp asc", pageSize = limit and min(PAGE, limit - count) or PAGE, pageToken = token }
    local page, err = client:call("POST", "entries:list", nil, body, { base = base, read = true })
    if not page then return nil, err end
    if type(page) ~= "table" then return nil, bad_answer("something other than an object") end
    local entries = page.entries
    if entries ~= nil and type(entries) ~= "table" then return nil, bad_answer("entries that are not a list") end
    -- a null in the list decodes to a hole: go by the highest index, not ipairs
    local n = 0
    for k in pairs(entries or {}) do
      if type(k) == "number" and k > n then n = k end
    end
    local out = {}
    for i = 1, n do
      local e = entries[i]
      if type(e) == "table" and not (limit and count >= limit) then
        out[#out + 1] = e
        count = count + 1
      end
    end
    each(out)
    if limit and count >= limit then return true end
    token = page.nextPageToken
    if token ~= nil and type(token) ~= "string" then return nil, bad_answer("a nextPageToken that is not a string") end
    if token and tokens[token] then return nil, bad_answer("the same nextPageToken twice") end
    if token then tokens[token] = true end
  until not token or token == ""
  return true
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
  -- Entries come in time order, and --follow asks again from the last time shown (>=): only the
  -- entries of that last time can come again, so only theirs are remembered.
  local seen, last = {}, nil
  local function show(entries)
    for _, e in ipairs(entries) do
      local id = str(e.insertId) or ((str(e.timestamp) or "") .. "\0" .. (str(e.textPayload) or ""))
      if not seen[id] then
        common.stdout_write(line(e), "\n")
        -- the next round asks from here on (an RFC 3339 time, nothing else goes into the filter)
        local t = str(e.timestamp)
        if t and t ~= last and t:match("^%d%d%d%d%-%d%d%-%d%dT[%d:%.]+[Z%d:+-]*$") then
          last, seen = t, {}
        end
        seen[id] = true
      end
    end
    io.stdout:flush()
  end
  local filter = _M.filter(project, location, job, execution, task)
  if flags.format then -- a document (a JSON list, a table's columns) needs every entry first
    local all = {}
    local ok, ferr = pages(client, base, project, filter, limit, function(entries)
      for _, e in ipairs(entries) do all[#all + 1] = e end
    end)
    if not ok then return common.api_failure(ferr) end
    common.print(flags, setmetatable(all, core.array_mt), true)
    return common.OK
  end
  local ok
  ok, err = pages(client, base, project, filter, limit, show)
  if not ok then return common.api_failure(err) end
  if not flags.follow then return common.OK end
  -- follow: gently, until the execution is done and its last lines are in
  core.catch_interrupt()
  local done = false
  while true do
    if core.sleep(2) or core.interrupted() then return INTERRUPTED end
    local e, gerr = client:get_execution(name)
    if not e and gerr.code == "NOT_FOUND" then return common.api_failure(gerr) end
    ok, err = pages(client, base, project, _M.filter(project, location, job, execution, task, last), nil, show)
    if not ok then return common.api_failure(err) end
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
      { "follow", false, "keep printing new lines until the execution is done (Ctrl-C stops: exit 130)" },
      common.limit_flag,
    },
  },
}

return _M
