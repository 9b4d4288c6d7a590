--- cloudrun jobs executions logs EXECUTION [--task N] [--follow], and
-- cloudrun jobs logs read|tail JOB — an execution's logs, or a job's across
-- its executions, from Cloud Logging (entries:list, the same credentials),
-- with the filters gcloud uses for a Cloud Run job (`beta run jobs logs`).
-- The emulator answers entries:list itself from its task logs, so these work
-- against it too. Following polls: each line is printed once however often
-- a poll answers it.
local common = require("cloudrun.cli.common")
local core = require("cloudrun.core")
local wait = require("cloudrun.wait")

local io, os, ipairs, pairs, type, tostring, tonumber, setmetatable, concat, min, floor, huge =
  io, os, ipairs, pairs, type, tostring, tonumber, setmetatable, table.concat, math.min, math.floor, math.huge

local _M = {}

local LOGGING = "https://logging.googleapis.com"
local INTERRUPTED = 130 -- as a shell reports a command stopped by Ctrl-C
local PAGE = 1000 -- entries a page, Cloud Logging's most
local POLL = 2 -- seconds between the polls of a follow
-- seconds a poll looks back before the newest line shown: a line can reach Cloud Logging after a later one
local LOOKBACK = 5

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

--- The filter for a job's entries across its executions, as gcloud writes it (`beta run jobs logs
-- read`), with the project as well; `user` (--log-filter) goes first, in parentheses, ANDed.
function _M.job_filter(project, location, job, user, after)
  local parts = {}
  if user then parts[1] = "(" .. user .. ")" end
  parts[#parts + 1] = 'resource.type = "cloud_run_job"'
  parts[#parts + 1] = ('resource.labels.job_name = "%s"'):format(job)
  parts[#parts + 1] = ('resource.labels.location = "%s"'):format(location)
  parts[#parts + 1] = ('resource.labels.project_id = "%s"'):format(project)
  parts[#parts + 1] = "severity >= DEFAULT"
  if after then parts[#parts + 1] = ('timestamp >= "%s"'):format(after) end
  return concat(parts, " AND ")
end

--- Seconds since 1970 of an RFC 3339 time in UTC ("2026-01-02T03:04:05.123456Z"), or nil.
function _M.seconds(t)
  local y, mo, d, h, mi, s, frac = t:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)(%.?%d*)Z$")
  if not y or frac == "." then return nil end
  y, mo = tonumber(y), tonumber(mo)
  if mo <= 2 then y = y - 1 end -- days from the civil date, counted from March (the leap day last)
  local era = floor(y / 400)
  local yoe = y - era * 400
  local doy = floor((153 * ((mo + 9) % 12) + 2) / 5) + tonumber(d) - 1
  local days = era * 146097 + yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s) + (tonumber("0" .. frac) or 0)
end

--- The RFC 3339 form of a time in seconds since 1970, to the microsecond (never later than it).
function _M.rfc3339(secs)
  local whole = floor(secs)
  return os.date("!%Y-%m-%dT%H:%M:%S", whole) .. (".%06dZ"):format(floor((secs - whole) * 1e6))
end

local function str(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" or t == "boolean" then return tostring(v) end
  return nil
end

-- One line of a log entry: when, (for a job's logs) which execution, which task, what (whatever
-- shape the server gave it).
local function line(entry, with_execution)
  local labels = type(entry.labels) == "table" and entry.labels or {}
  local task = str(labels["run.googleapis.com/task_index"])
  local execution = with_execution and str(labels["run.googleapis.com/execution_name"])
  local text = str(entry.textPayload)
  if text == nil and type(entry.jsonPayload) == "table" then
    text = str(entry.jsonPayload.message) or core.json_encode(entry.jsonPayload)
  end
  return ("%s  %s%s%s"):format(str(entry.timestamp) or str(entry.receiveTimestamp) or "-",
    execution and (execution .. "  ") or "", task and ("task " .. task .. "  ") or "", (text or ""):gsub("\n$", ""))
end

-- Prints entries as lines, each once however often a poll answers it, and says where the next poll
-- starts: LOOKBACK seconds before the newest time shown, never before `from` (seconds). Only the
-- lines a poll can answer again are remembered.
local function follower(with_execution, from)
  local seen, newest, f = {}, nil, {}
  function f.show(entries)
    for _, e in ipairs(entries) do
      local id = str(e.insertId) or ((str(e.timestamp) or "") .. "\0" .. (str(e.textPayload) or ""))
      if not seen[id] then
        common.stdout_write(line(e, with_execution), "\n")
        local t = _M.seconds(str(e.timestamp) or "")
        seen[id] = t or huge -- a time that does not read: kept for good
        if t and (not newest or t > newest) then newest = t end
      end
    end
    io.stdout:flush()
  end
  function f.since()
    local at = newest and newest - LOOKBACK
    if from and (not at or at < from) then at = from end
    if not at then return nil end
    for id, t in pairs(seen) do
      if t < at - 1 then seen[id] = nil end -- a second's margin: the bound is written to the microsecond
    end
    return _M.rfc3339(at)
  end
  return f
end

local function bad_answer(what)
  return core.error("UNKNOWN", "Cloud Logging's entries:list answered " .. what)
end

-- Asks for the entries page after page (oldest first, or newest first when `newest`) and hands each
-- page's to each(entries) as it comes, so that nothing waits for the last page and nothing holds them
-- all; stops at the last page, or once `limit` entries were handed over (no page is asked past it).
-- true, or nil, err.
local function pages(client, base, project, filter, limit, each, newest)
  local token, tokens, count = nil, {}, 0
  repeat
    local body = { resourceNames = setmetatable({ "projects/" .. project }, core.array_mt), filter = filter,
      orderBy = newest and "timestamp desc" or "timestamp asc", pageSize = limit and min(PAGE, limit - count) or PAGE,
      pageToken = token }
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
  local follow = follower(false)
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
  ok, err = pages(client, base, project, filter, limit, follow.show)
  if not ok then return common.api_failure(err) end
  if not flags.follow then return common.OK end
  -- follow: gently, until the execution is done and its last lines are in
  core.catch_interrupt()
  local done = false
  while true do
    if core.sleep(POLL) or core.interrupted() then return INTERRUPTED end
    local e, gerr = client:get_execution(name)
    if not e and gerr.code == "NOT_FOUND" then return common.api_failure(gerr) end
    ok, err = pages(client, base, project, _M.filter(project, location, job, execution, task, follow.since()), nil,
      follow.show)
    if not ok then return common.api_failure(err) end
    if done then return common.OK end
    done = e and wait.finished(e) -- one more round after the end: late lines
  end
end

-- The job a command names, and where its logs are: client, base, project, location, job; or nil, exit status.
local function job_of(ctx)
  local client, err = ctx:client()
  if not client then return nil, common.api_failure(err) end
  local name
  name, err = client:job_name(ctx.pos[1])
  if not name then return nil, common.api_failure(err) end
  local project, location, job = name:match("^projects/([^/]+)/locations/([^/]+)/jobs/([^/]+)$")
  return client, _M.endpoint(client), project, location, job
end

local function read(ctx)
  local flags = ctx.flags
  local limit, freshness, err
  if flags.limit then
    limit, err = common.count("--limit", flags.limit)
    if not limit then return ctx:usage(err) end
  end
  freshness, err = common.duration("--freshness", flags.freshness or "1d")
  if not freshness then return ctx:usage(err) end
  local order = flags.order or "desc"
  if order ~= "asc" and order ~= "desc" then
    return ctx:usage("--order must be asc or desc, not '" .. order .. "'")
  end
  local user = flags["log-filter"]
  if user and not user:find("%S") then user = nil end
  local client, base, project, location, job = job_of(ctx)
  if not client then return base end
  -- gcloud's rule: a --log-filter that bounds the time itself is not bounded again, unless --freshness is given
  local since
  if flags.freshness or not (user and user:find("timestamp", 1, true)) then
    since = _M.rfc3339(os.time() - freshness)
  end
  local filter = _M.job_filter(project, location, job, user, since)
  -- The lines print oldest first. The newest N (desc with --limit) come newest first and are turned
  -- round (N at most); otherwise the same entries come oldest first, printed as they come.
  local newest = order == "desc" and limit ~= nil
  local follow, all = follower(true), {}
  local each = (flags.format or newest) and function(entries)
    for _, e in ipairs(entries) do all[#all + 1] = e end
  end or follow.show
  local ok
  ok, err = pages(client, base, project, filter, limit, each, newest)
  if not ok then return common.api_failure(err) end
  if newest then
    for i = 1, floor(#all / 2) do all[i], all[#all + 1 - i] = all[#all + 1 - i], all[i] end
  end
  if flags.format then
    common.print(flags, setmetatable(all, core.array_mt), true)
  elseif newest then
    follow.show(all)
  end
  return common.OK
end

local function tail(ctx)
  if ctx.flags.format then return ctx:usage("jobs logs tail prints lines: it does not take --format") end
  local user = ctx.flags["log-filter"]
  if user and not user:find("%S") then user = nil end
  local client, base, project, location, job = job_of(ctx)
  if not client then return base end
  local follow = follower(true, os.time())
  core.catch_interrupt()
  while true do
    local ok, err = pages(client, base, project, _M.job_filter(project, location, job, user, follow.since()), nil,
      follow.show)
    if not ok then return common.api_failure(err) end
    if core.sleep(POLL) or core.interrupted() then return INTERRUPTED end
  end
end

local log_filter_flag = { "log-filter", "F", "only the entries this Cloud Logging filter keeps too (ANDed to the "
  .. "job's, in parentheses), e.g. 'severity>=ERROR', 'textPayload:\"timeout\"', "
  .. "'labels.\"run.googleapis.com/task_index\"=\"0\"'" }

-- What a job's logs print, and what the emulator's entries:list understands of --log-filter.
local job_logs_details =
  "Each line: the entry's time, its execution, its task and its text. The logs of every execution,\n"
  .. "deleted ones too: the job itself is not looked up. Against the emulator, --log-filter may compare\n"
  .. "resource.labels.*, labels.\"run.googleapis.com/task_index\" (and execution_name, task_attempt), timestamp,\n"
  .. "severity, textPayload, logName and insertId with = != < <= > >= : (contains) and :* (has a value),\n"
  .. "joined by AND, OR, NOT (or -) and parentheses; it refuses anything else, naming the term (exit 3)."

_M.commands = {
  {
    path = { "jobs", "logs", "read" }, args = { "JOB" }, run = read,
    summary = "Print a job's logs across its executions, oldest first (Cloud Logging; the emulator's own "
      .. "task logs against it).",
    details = job_logs_details,
    flags = {
      { "limit", "N", "at most N lines: the newest N (--order desc, the default) or the oldest N (--order asc)" },
      { "freshness", "D", "only lines of the last D (a duration: 30m, 2h, 1d; default 1d); not applied when "
        .. "--log-filter compares timestamp itself, unless given" },
      log_filter_flag,
      { "order", "asc|desc", "which end --limit keeps: desc (the default) the newest lines, asc the oldest; they "
        .. "print oldest first either way (--format: the entries, in that order too)" },
    },
  },
  {
    path = { "jobs", "logs", "tail" }, args = { "JOB" }, run = tail,
    summary = "Print a job's new log lines as they come, from any of its executions, until Ctrl-C (exit 130).",
    details = job_logs_details .. "\nCloud Logging is asked every " .. POLL .. " seconds; each line prints once.",
    flags = { log_filter_flag },
  },
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
