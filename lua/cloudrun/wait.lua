--- cloudrun.wait — following executions to their end. wait polls GetExecution
-- with growing intervals (the Execution carries the counts that progress
-- reports need; the Operation does not); wait_all follows many on the same
-- rhythm with one ListExecutions per job a round. Both tolerate transient read
-- failures within the deadline and return the final Executions however they ended.
local core = require("cloudrun.core")

local type, error, tostring, ipairs, pairs, concat, min, max, ceil, random, getmetatable =
  type, error, tostring, ipairs, pairs, table.concat, math.min, math.max, math.ceil, math.random, getmetatable

local _M = {}

-- The execution resource name behind whatever the caller has in hand: the core's one rule
-- (our run_job result's .execution, an Operation's metadata or response, an Execution, a name).
local execution_name = core.execution_name
_M.execution_name = execution_name

--- Whether an Execution has ended: completionTime is set once every task is
-- done, cancelled included; the Completed condition says so too.
local function finished(e)
  if e.completionTime then return true end
  for _, c in ipairs(e.conditions or {}) do
    if c.type == "Completed" and (c.state == "CONDITION_SUCCEEDED" or c.state == "CONDITION_FAILED") then
      return true
    end
  end
  return false
end
_M.finished = finished

-- What on_progress is about: counts and condition states.
local function progress_key(e)
  local parts = {
    tostring(e.runningCount or 0), tostring(e.succeededCount or 0), tostring(e.failedCount or 0),
    tostring(e.cancelledCount or 0), tostring(e.retriedCount or 0),
  }
  for _, c in ipairs(e.conditions or {}) do
    parts[#parts + 1] = tostring(c.type) .. "=" .. tostring(c.state)
  end
  return concat(parts, ",")
end

--- Whether a finished Execution succeeded: its Completed condition says so
-- (a failed task or a cancellation leaves it CONDITION_FAILED).
local function succeeded(e)
  for _, c in ipairs(e.conditions or {}) do
    if c.type == "Completed" then return c.state == "CONDITION_SUCCEEDED" end
  end
  return false
end
_M.succeeded = succeeded

local wait_options = { timeout = "number", on_progress = "function", interval = "number", max_interval = "number" }

local function check_options(fn, opts)
  if type(opts) ~= "table" then
    error("bad argument #2 to '" .. fn .. "' (table of options expected, got " .. type(opts) .. ")", 4)
  end
  for k, v in pairs(opts) do
    if not wait_options[k] then error(fn .. ": unknown option '" .. tostring(k) .. "'", 4) end
    if type(v) ~= wait_options[k] then
      error(fn .. ": option '" .. k .. "' must be a " .. wait_options[k] .. " (got " .. type(v) .. ")", 4)
    end
  end
end

--- The interval after `interval`: about 1.5x (1.4x to 1.6x: a little jitter, so that many
-- waiters do not poll in step), at most max_interval.
local function next_interval(interval, max_interval)
  return min(max_interval, interval * (1.4 + 0.2 * random()))
end
_M.next_interval = next_interval

--[[
The polling rhythm, one for wait and wait_all: the first look at once, then
0.2 s, growing by about 1.5x up to 10 s (interval =, max_interval =). Inside
nginx sleeping is ngx.sleep, which never blocks the worker; elsewhere
core.sleep, which Ctrl-C cuts short once the CLI has asked for that
(core.catch_interrupt): pause() then says so. Returns pause(), which sleeps
until the next look — false when the deadline has passed, "interrupted" on
Ctrl-C — and left(), the seconds to the deadline (nil without one).
]]
local function schedule(client, opts)
  local sleep, now = core.sleep, core.monotonic
  if client._driver then
    sleep, now = ngx.sleep, function() ngx.update_time(); return ngx.now() end
  end
  local deadline = opts.timeout and now() + opts.timeout
  local interval, max_interval = opts.interval or 0.2, opts.max_interval or 10
  local function left()
    return deadline and deadline - now()
  end
  local function pause()
    local delay = interval
    if deadline then
      local l = deadline - now()
      if l <= 0 then return false end
      delay = min(delay, l)
    end
    if sleep(delay) == true then return "interrupted" end
    interval = next_interval(interval, max_interval)
    return true
  end
  return pause, left
end

-- Polls in a row without an answer (each already retried: about 5 s against an API that
-- does not answer) after which a wait gives up with the last error, timeout or not: an
-- unreachable API is said, not waited on for ever.
local UNANSWERED = 5
_M.UNANSWERED = UNANSWERED

-- Each poll retries transient failures itself, but never past the wait's own deadline.
local function poll_options(left)
  local l = left()
  return l and { retry = { deadline = max(0.05, l) } } or nil
end

local function interrupted(name)
  return core.error("CANCELLED", "waiting for " .. name .. ": stopped by Ctrl-C (the execution goes on)")
end

local function past_deadline(name, timeout, err)
  return core.error("DEADLINE_EXCEEDED", "waiting for " .. name .. ": not finished after " .. tostring(timeout)
    .. " s" .. (err and (" (last error: " .. tostring(err) .. ")") or ""))
end

function _M.execution(client, target, opts)
  opts = opts or {}
  check_options("wait", opts)
  local name = execution_name(target)
  if not name then
    error("bad argument #1 to 'wait' (an Operation from run_job, an Execution or an execution name expected)", 3)
  end
  local pause, left = schedule(client, opts)
  local on_progress, last_key, unanswered = opts.on_progress, nil, 0

  while true do
    local e, err = client:get_execution(name, poll_options(left))
    if e then
      unanswered = 0
      local key = progress_key(e)
      if on_progress and key ~= last_key then on_progress(e) end
      last_key = key
      if finished(e) then return e end
    elseif not err.retryable then
      return nil, err
    else
      unanswered = unanswered + 1
      if unanswered >= UNANSWERED then return nil, err end
    end
    local go_on = pause()
    if not go_on then return nil, past_deadline(name, opts.timeout, err) end
    if go_on == "interrupted" then return nil, interrupted(name) end
  end
end

-- ---- wait_all -------------------------------------------------------------------

-- A page of ListExecutions: as many as twice the executions looked for, within what
-- Cloud Run serves in one page.
local MIN_PAGE, MAX_PAGE = 50, 1000

-- An RFC 3339 UTC time as text that sorts as the time does (nine digits of
-- fraction: "05Z" and "05.5Z" do not compare as text), or nil.
local function instant(t)
  if type(t) ~= "string" then return nil end
  local base, frac = t:match("^(%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d)%.?(%d*)Z$")
  if not base then return nil end
  return base .. "." .. (frac .. "000000000"):sub(1, 9)
end

local function page_size(n)
  return min(MAX_PAGE, max(MIN_PAGE, 2 * n))
end

-- A resource name without its project ("locations/L/jobs/J/..."), or nil.
local function unprojected(name)
  return type(name) == "string" and name:match("^projects/[^/]+/(locations/.*)$") or nil
end

-- The createTime the caller's entry already tells (an Execution, or an
-- Operation whose metadata is the Execution), for the list's stopping point.
local function known_created(entry, name)
  if type(entry) ~= "table" then return nil end
  if entry.name == name and entry.createTime then return instant(entry.createTime) end
  local md = entry.metadata
  if type(md) == "table" and md.name == name then return instant(md.createTime) end
  return nil
end

local function is_error(v)
  return type(v) == "table" and getmetatable(v) == core.error_mt
end

--[[
Reads the list: every entry becomes a slot holding an err (an err table given,
as run_jobs' results may hold; a name the client cannot resolve) or a target,
one per distinct execution, { name =, key_name =, job =, region =,
slots = {i...}, created = }. A misused entry (not a name, an Operation, an Execution or an
err) raises, naming it.
]]
local function targets_of(client, list)
  if type(list) ~= "table" then
    error("bad argument #1 to 'wait_all' (list of Operations, Executions or execution names expected, got "
      .. type(list) .. ")", 4)
  end
  local results, targets, by_name = {}, {}, {}
  for i = 1, #list do
    local entry = list[i]
    local name
    if is_error(entry) then
      results[i] = entry
    elseif type(entry) == "string" and entry ~= "" then
      name = entry
    elseif type(entry) == "table" then
      name = execution_name(entry)
    end
    if not name and not results[i] then
      error(("bad argument #1 to 'wait_all' (entry %d: an Operation from run_job, an Execution or an execution "
        .. "name expected, got %s)"):format(i, entry == "" and "an empty string" or type(entry)), 4)
    end
    if name then
      local full, err = client:execution_name(name)
      local region, job = (full or ""):match("^(projects/[^/]+/locations/[^/]+)/jobs/([^/]+)/executions/[^/]+$")
      if not region then
        results[i] = err or core.error("INVALID_ARGUMENT", "wait_all: entry " .. i .. ": " .. tostring(full)
          .. " is not an execution name")
      else
        local t = by_name[full]
        if not t then
          t = { name = full, key_name = unprojected(full), job = region .. "/jobs/" .. job, region = region,
                slots = {} }
          by_name[full] = t
          targets[#targets + 1] = t
        end
        t.slots[#t.slots + 1] = i
        t.created = t.created or known_created(entry, full)
      end
    end
  end
  return results, targets
end

--[[
wait_all(client, list, opts) -> executions, failed

Each round looks at every execution still pending with as few requests as it
can, then sleeps on wait's rhythm. Executions are grouped by job; a job's are
seen in one ListExecutions sweep (see sweep), and with pending executions of
two jobs or more in one region, one sweep of the region's jobs/- list (the
wildcard Cloud Run documents for ListExecutions) may serve them all: the first
such sweep measures what a sweep per job would have cost, and the cheaper way
is kept. A group whose pending executions are no more than the requests its
last sweep took is looked at with a GET each; so is an execution a sweep did
not find (deleted, or not listed yet), and every one of a group whose list the
API refuses (a caller allowed run.executions.get but not .list).
]]
function _M.all(client, list, opts)
  opts = opts or {}
  check_options("wait_all", opts)
  local results, targets = targets_of(client, list)
  local pause, left = schedule(client, opts)
  local on_progress = opts.on_progress
  local last_err
  local cost = {}      -- group (a job's name or a region's jobs/-) -> requests its last sweep took
  local per_job = {}   -- region -> true once sweeping job by job is known to be cheaper
  local no_list = {}   -- group -> true once the API has refused to list it

  local function settle(t, value)
    t.done = true
    for _, i in ipairs(t.slots) do results[i] = value end
  end

  local function saw(t, e)
    t.created = t.created or instant(e.createTime)
    local key = progress_key(e)
    if key ~= t.progress then
      t.progress = key
      if on_progress then
        for _, i in ipairs(t.slots) do on_progress(e, i) end
      end
    end
    if finished(e) then settle(t, e) end
  end

  local answered -- whether anything answered this round (UNANSWERED)
  local function get(t)
    local e, err = client:get_execution(t.name, poll_options(left))
    if e then
      answered = true
      saw(t, e)
    elseif err.retryable then
      last_err = err
    else
      answered = true
      settle(t, err)
    end
  end

  --[[
  One sweep of parent's list, newest first, for the targets: it stops once each
  is seen, once a page ends before the oldest one's createTime (when every
  createTime is known: the rest of the list is older still), or once pages
  that found nothing number as many as the targets still unseen (from there a
  GET each is cheaper). Returns the targets not seen, the pages it took, and
  for each job of the targets the requests a sweep of its own list would have
  taken (its entries up to its last target seen, in pages no larger than the
  server served; a GET each when that is fewer). nil, err when the list could
  not be read. Names are matched without their project, which the server may
  spell as a number where the caller gave the id.
  ]]
  local function sweep(parent, group)
    local want, unseen, oldest = {}, #group, nil
    for _, t in ipairs(group) do
      want[t.key_name] = t
      if oldest ~= false then
        if not t.created then
          oldest = false -- one createTime unknown: no stopping by time
        elseif not oldest or t.created < oldest then
          oldest = t.created
        end
      end
    end
    local size = page_size(#group)
    local pages, barren, token, served = 0, 0, nil, size
    local listed, upto = {}, {} -- per job: entries seen so far; entries up to its last target
    repeat
      local po = poll_options(left)
      local page, err = client:list_executions(parent,
        { page_size = size, page_token = token, retry = po and po.retry })
      if not page then return nil, err end
      pages = pages + 1
      local items = page.executions or {}
      local found = false
      for _, e in ipairs(items) do
        local key = unprojected(e.name)
        local job = key and key:match("^(.*)/executions/")
        if job then listed[job] = (listed[job] or 0) + 1 end
        local t = key and want[key]
        if t then
          want[key], unseen, found = nil, unseen - 1, true
          upto[job] = listed[job]
          saw(t, e)
        end
      end
      if not found then barren = barren + 1 end
      token = page.nextPageToken
      if token == "" then token = nil end
      if token and #items > 0 and #items < served then served = #items end
      local tail = items[#items] and instant(items[#items].createTime)
      local past = oldest and tail and tail < oldest
    until unseen == 0 or not token or past or barren >= unseen
    local missed, pending_of = {}, {}
    for _, t in ipairs(group) do
      if want[t.key_name] then missed[#missed + 1] = t end
      pending_of[t.job] = (pending_of[t.job] or 0) + 1
    end
    local by_job = {}
    for job, n in pairs(pending_of) do
      local seen = upto[unprojected(job)]
      by_job[job] = seen and min(n, ceil(seen / min(served, page_size(n)))) or min(n, 1)
    end
    return missed, pages, by_job
  end

  -- Looks at the group's targets (pending ones of one job, or of a region's jobs: parent ".../jobs/-").
  local function look(parent, group, region_wide)
    if no_list[parent] or #group <= (cost[parent] or 1) then
      for _, t in ipairs(group) do get(t) end
      return
    end
    local missed, pages, by_job = sweep(parent, group)
    if not missed then
      local err = pages
      if err.retryable then
        last_err = err
        return
      end
      answered = true
      -- refused: this group is followed with GETs from now on
      no_list[parent] = true
      if region_wide then per_job[group[1].region] = true end
      for _, t in ipairs(group) do if not t.done then get(t) end end
      return
    end
    answered = true
    cost[parent] = pages
    if region_wide then
      local jobs_cost = 0
      for job, c in pairs(by_job) do
        jobs_cost = jobs_cost + c
        cost[job] = c
      end
      if jobs_cost < pages then per_job[group[1].region] = true end
    end
    for _, t in ipairs(missed) do get(t) end
  end

  local function round()
    -- the pending targets by region, then by job, in the order they came
    local regions, region_of = {}, {}
    for _, t in ipairs(targets) do
      if not t.done then
        local r = region_of[t.region]
        if not r then
          r = { name = t.region, all = {}, jobs = {}, job_of = {} }
          region_of[t.region] = r
          regions[#regions + 1] = r
        end
        r.all[#r.all + 1] = t
        local j = r.job_of[t.job]
        if not j then
          j = { name = t.job }
          r.job_of[t.job] = j
          r.jobs[#r.jobs + 1] = j
        end
        j[#j + 1] = t
      end
    end
    for _, r in ipairs(regions) do
      if #r.jobs > 1 and not per_job[r.name] then
        look(r.name .. "/jobs/-", r.all, true)
      else
        for _, j in ipairs(r.jobs) do look(j.name, j, false) end
      end
    end
  end

  local unanswered = 0
  while true do
    answered = false
    round()
    unanswered = answered and 0 or unanswered + 1
    local pending = false
    for _, t in ipairs(targets) do
      if not t.done then pending = true break end
    end
    if not pending then break end
    if unanswered >= UNANSWERED and last_err then
      for _, t in ipairs(targets) do
        if not t.done then settle(t, last_err) end
      end
      break
    end
    local go_on = pause()
    if go_on ~= true then
      for _, t in ipairs(targets) do
        if not t.done then
          settle(t, go_on == "interrupted" and interrupted(t.name) or past_deadline(t.name, opts.timeout, last_err))
        end
      end
      break
    end
  end
  local failed = 0
  for i = 1, #list do
    local r = results[i]
    if is_error(r) or not succeeded(r) then failed = failed + 1 end
  end
  return results, failed
end

return _M
