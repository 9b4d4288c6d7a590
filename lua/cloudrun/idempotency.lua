--- cloudrun.idempotency — triggers that start at most one execution per key.
-- A keyed run_job (or run_jobs entry) sends its key with the execution as the
-- env override CLOUDRUN_IDEMPOTENCY_KEY (Cloud Run writes overrides into the
-- Execution's template, and the task can read it), and before starting looks
-- for an execution of the job, created within the window, whose template
-- carries the key: ListExecutions, newest first, paged, stopping at the first
-- one older than the window. Found: { execution = NAME, deduplicated = true },
-- nothing started. A key once seen is remembered until its window ends (in
-- this process; inside nginx in the client's shared_dict or the worker), so a
-- repeated key costs no listing.
--
-- After an ambiguous failure (the RunJob was sent and its answer lost:
-- err.sent), the call looks again: it returns what it finds (recovered =
-- true as well), or, finding nothing, sends the RunJob once more. Unkeyed
-- calls keep the core's rule: a change that may have arrived is never resent.
--
-- Calls with the same key wait for one another through a lock in the store
-- (add with an expiry: a dead holder stops nobody for longer than it), so that
-- a double click gives one execution. Two processes that share no store (two
-- machines, two nginx) can still both start one if they look within the same
-- moment, before either execution exists.
local core = require("cloudrun.core")
local fields = require("cloudrun.fields")

local type, pairs, ipairs, next, tostring, tonumber, error, setmetatable, getmetatable, pcall =
  type, pairs, ipairs, next, tostring, tonumber, error, setmetatable, getmetatable, pcall
local max, min = math.max, math.min

local _M = {}

_M.VAR = "CLOUDRUN_IDEMPOTENCY_KEY" -- not CLOUD_RUN_: that prefix is Cloud Run's own
_M.DEFAULT_WINDOW = 24 * 3600
_M.MAX_KEY = 512                     -- bytes
_M.LOCK_SECONDS = 60                 -- how long a holder may keep a key's lock, and so how long others wait
_M.PAGE_SIZE = 100

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- ---- the options ------------------------------------------------------------------

--- The key and window of run_job's options (nil when unkeyed); misuse raises,
-- naming `where` ("run_job", "run_jobs: entry 3"), at `level`.
function _M.options(opts, where, level)
  level = level + 1
  local key, window = opts.idempotency_key, opts.idempotency_window
  if key == nil then
    if window ~= nil then
      error(where .. ": option 'idempotency_window' needs 'idempotency_key'", level)
    end
    return nil
  end
  if type(key) ~= "string" or key == "" or #key > _M.MAX_KEY or key:find("%z") then
    error(where .. ": option 'idempotency_key' must be a non-empty string of at most " .. _M.MAX_KEY
      .. " bytes without NUL (got " .. (type(key) == "string" and #key .. " bytes" or type(key)) .. ")", level)
  end
  if window ~= nil and (type(window) ~= "number" or window ~= window or window <= 0 or window > 366 * 24 * 3600) then
    error(where .. ": option 'idempotency_window' must be a number of seconds above 0, at most a year (got "
      .. tostring(window) .. ")", level)
  end
  return key, window or _M.DEFAULT_WINDOW
end

-- env (a map, or a list of {name=, value=}) with the key added; a different
-- value for the variable already there is misuse.
local function with_key(env, key, where, level)
  if env == nil then return { [_M.VAR] = key } end
  if type(env) ~= "table" then return env end -- the core says what is wrong with it
  local out = copy(env)
  if env[1] ~= nil then
    for _, v in ipairs(env) do
      if type(v) == "table" and v.name == _M.VAR and v.value ~= key then
        error(where .. ": env " .. _M.VAR .. " is the idempotency key's; give the key as idempotency_key only", level)
      end
    end
    out[#out + 1] = { name = _M.VAR, value = key }
  else
    if env[_M.VAR] ~= nil and env[_M.VAR] ~= key then
      error(where .. ": env " .. _M.VAR .. " is the idempotency key's; give the key as idempotency_key only", level)
    end
    out[_M.VAR] = key
  end
  return out
end

--- run_job's options without the key's two, the key in the env of the
-- container overridden (or of each container of `containers`).
function _M.overrides(opts, key, where, level)
  level = level + 1
  local o = copy(opts)
  o.idempotency_key, o.idempotency_window = nil, nil
  if type(o.containers) == "table" and next(o.containers) ~= nil then
    local cs = {}
    for name, c in pairs(o.containers) do
      if type(c) == "table" then
        c = copy(c)
        c.env = with_key(c.env, key, where, level + 1)
      end
      cs[name] = c
    end
    o.containers = cs
  else
    o.env = with_key(o.env, key, where, level + 1)
  end
  return o
end

-- ---- what Cloud Run says --------------------------------------------------------------

--- An RFC 3339 timestamp (date, time and zone, as Cloud Run writes them) as Unix seconds, or nil.
function _M.unix(ts)
  if type(ts) ~= "string" or not ts:find("^%d%d%d%d%-%d%d%-%d%d[Tt]%d%d:%d%d:%d%d%.?%d*[Zz+-]") then return nil end
  local secs, frac = fields.timestamp(ts) -- the one reader of times (cloudrun.fields, as --filter reads them)
  return secs and secs + frac
end

--- Whether an Execution's template carries the key (in any container's env).
function _M.carries(execution, key)
  local template = type(execution) == "table" and execution.template
  for _, c in ipairs(type(template) == "table" and template.containers or {}) do
    for _, e in ipairs(type(c) == "table" and c.env or {}) do
      if type(e) == "table" and e.name == _M.VAR and e.value == key then return true end
    end
  end
  return false
end

-- ---- the stores -----------------------------------------------------------------------

-- A process's own store with the part of ngx.shared.DICT's interface used
-- here (get, set, add, delete; values expire): keys remembered by every
-- client of this process. Expired entries go as they are met, and all of them
-- now and then.
local Memory = {}
Memory.__index = Memory

function _M.memory(now)
  return setmetatable({ v = {}, exp = {}, n = 0, now = now }, Memory)
end

function Memory:get(k)
  local e = self.exp[k]
  if e and e <= self.now() then
    self.v[k], self.exp[k] = nil, nil
  end
  return self.v[k]
end

function Memory:set(k, v, ttl)
  self.n = self.n + 1
  if self.n % 256 == 0 then
    local now = self.now()
    for key, e in pairs(self.exp) do
      if e <= now then self.v[key], self.exp[key] = nil, nil end
    end
  end
  self.v[k] = v
  self.exp[k] = ttl and ttl > 0 and self.now() + ttl or nil
  return true
end

function Memory:add(k, v, ttl)
  if self:get(k) ~= nil then return false, "exists" end
  return self:set(k, v, ttl)
end

function Memory:delete(k)
  self.v[k], self.exp[k] = nil, nil
end

-- ---- the engine -----------------------------------------------------------------------

local Keys = {}
Keys.__index = Keys

--[[
keys for one client:
  client    the client (its list_executions and job_name are the paced reads)
  store     memory and locks: a shared dict, the nginx worker's store, or a process's Memory
  now       Unix seconds (the wall clock: compared with Cloud Run's createTime)
  sleep     how to wait for another call's lock
  scope     what tells this client's API apart in the store (its endpoint)
]]
function _M.new(t)
  return setmetatable({ client = t.client, store = t.store, now = t.now, sleep = t.sleep, scope = t.scope }, Keys)
end

-- An API failure of the look-up, with why the key needs it.
local function lookup_failed(err)
  if type(err) == "table" and err.code == "PERMISSION_DENIED" and type(err.message) == "string" then
    err.message = err.message .. " Hint: a call with an idempotency key first lists the job's executions to "
      .. "find one that carries the key, which needs run.executions.list (roles/run.viewer, or "
      .. "roles/run.developer); roles/run.invoker and roles/run.jobsExecutorWithOverrides lack it."
  end
  return err
end

local function started_failed(err)
  if type(err) == "table" and err.code == "PERMISSION_DENIED" and type(err.message) == "string" then
    err.message = err.message .. " An idempotency key travels as the env override " .. _M.VAR
      .. ", so a keyed call always has overrides."
  end
  return err
end

--[[
Looks through a job's executions, newest first, for the keys of `want`
({key -> window}); pages stop at the first execution older than the longest
window. Returns {key -> Execution} (an execution counts for a key only when
created within that key's window), or nil, err.
]]
function Keys:scan(job, want)
  local longest = 0
  for _, w in pairs(want) do longest = max(longest, w) end
  local now = self.now()
  local found, token = {}, nil
  repeat
    local page, err = self.client:list_executions(job, { page_size = _M.PAGE_SIZE, page_token = token })
    if not page then return nil, lookup_failed(err) end
    for _, e in ipairs(page.executions or {}) do
      local created = _M.unix(e.createTime)
      if created and created < now - longest then return found end
      for key, window in pairs(want) do
        if not found[key] and (not created or created >= now - window) and _M.carries(e, key) then
          found[key] = e
        end
      end
    end
    token = page.nextPageToken
  until token == nil or token == ""
  return found
end

function Keys:memory_key(item)
  return "cloudrun:key:" .. self.scope .. "|" .. item.name .. "|" .. item.key
end

-- Remembers the execution for an item until its window ends: "<createTime>|<name>".
function Keys:remember(item, execution, created)
  local now = self.now()
  created = created or now
  local left = item.window - max(0, now - created)
  if left > 0 then self.store:set(self:memory_key(item), ("%.6f|%s"):format(created, execution), left) end
end

-- The execution remembered for an item, if it was created within the item's
-- window (another call may have remembered it for a longer one).
function Keys:recall(item)
  local v = self.store:get(self:memory_key(item))
  if type(v) ~= "string" then return nil end
  local created, execution = v:match("^([%d.]+)|(.+)$")
  if created and tonumber(created) >= self.now() - item.window then return execution end
  return nil
end

-- The key's lock: true once held, or the execution another holder remembered meanwhile.
function Keys:lock(item)
  local mkey = self:memory_key(item)
  local lkey = "cloudrun:keylock:" .. mkey:sub(#"cloudrun:key:" + 1)
  local store, pause = self.store, 0.005
  while true do
    local ok, err = store:add(lkey, true, _M.LOCK_SECONDS)
    if ok or err ~= "exists" then
      item.lock = ok and lkey or nil
      return true
    end
    local seen = self:recall(item)
    if seen then return nil, seen end
    -- the holder's lock expires after LOCK_SECONDS: add succeeds then, and this call goes on itself
    self.sleep(pause)
    pause = min(pause * 2, 0.1)
  end
end

function Keys:unlock(item)
  if item.lock then self.store:delete(item.lock) end
  item.lock = nil
end

local function deduplicated(execution, recovered)
  return { execution = execution, deduplicated = true, recovered = recovered or nil }
end

local function is_error(v)
  return type(v) == "table" and getmetatable(v) == core.error_mt
end

--[[
Runs items ({job =, entry =, key =, window =}; entry is what `batch` takes,
a run_jobs entry with the key in its env) and fills results[i]: for a keyed
item, the execution remembered or found, else what batch gives (an Operation
or an err). batch(entries) -> results, one per entry, in order. Items with
the same job and key after the first take the first one's execution.
]]
function Keys:run(items, batch, results)
  local todo, firsts = {}, {}
  -- names, memory, duplicates within the list
  for i, item in ipairs(items) do
    if item.key then
      local name, err = self.client:job_name(item.job)
      if not name then
        results[i] = err
      else
        item.name = name
        local mkey = self:memory_key(item)
        local seen = self:recall(item)
        if seen then
          results[i] = deduplicated(seen)
        elseif firsts[mkey] then
          item.follows = firsts[mkey]
        else
          firsts[mkey] = i
          todo[#todo + 1] = i
        end
      end
    else
      todo[#todo + 1] = i
    end
  end
  local ok, failure = pcall(self.run_locked, self, items, todo, batch, results)
  for _, i in ipairs(todo) do self:unlock(items[i]) end
  if not ok then error(failure, 0) end
  -- the repeats of a key within the list
  for i, item in ipairs(items) do
    if item.follows then
      local r = results[item.follows]
      results[i] = is_error(r) and r or deduplicated(r.execution)
    end
  end
  return results
end

-- Looks for the keys of items `which` (indexes; grouped by job, one scan a
-- job): fills the results of those found. Returns {index -> err} for those
-- whose job could not be looked through.
function Keys:look(items, which, results, recovered)
  local by_job, failed = {}, {}
  for _, i in ipairs(which) do
    local item = items[i]
    local want = by_job[item.name]
    if not want then
      want = { keys = {}, items = {} }
      by_job[item.name] = want
    end
    want.keys[item.key] = max(want.keys[item.key] or 0, item.window)
    want.items[#want.items + 1] = i
  end
  for name, want in pairs(by_job) do
    local found, err = self:scan(name, want.keys)
    for _, i in ipairs(want.items) do
      local item = items[i]
      if not found then
        failed[i] = err
      elseif found[item.key] then
        local e = found[item.key]
        self:remember(item, e.name, _M.unix(e.createTime))
        results[i] = deduplicated(e.name, recovered)
      end
    end
  end
  return failed
end

-- Sends the items of `which` (indexes) as one batch; fills their results.
local function send(items, which, batch, results)
  if #which == 0 then return end
  local entries = {}
  for k, i in ipairs(which) do entries[k] = items[i].entry end
  local got = batch(entries)
  for k, i in ipairs(which) do results[i] = got[k] end
end

function Keys:run_locked(items, todo, batch, results)
  -- one call at a time per key: a second caller finds the first one's execution remembered
  local go, keyed = {}, {}
  for _, i in ipairs(todo) do
    local item = items[i]
    if item.key then
      local _, seen = self:lock(item)
      if seen then
        results[i] = deduplicated(seen)
      else
        go[#go + 1] = i
        keyed[#keyed + 1] = i
      end
    else
      go[#go + 1] = i
    end
  end
  for i, err in pairs(self:look(items, keyed, results)) do results[i] = err end
  local pending = {}
  for _, i in ipairs(go) do
    if results[i] == nil then pending[#pending + 1] = i end
  end
  -- A keyed RunJob whose answer was lost may have started its execution: look
  -- again, and send it once more only when the look finds nothing. A look that
  -- fails resends nothing: the RunJob's own err (sent = true) stands.
  for attempt = 1, 2 do
    send(items, pending, batch, results)
    local lost, errs = {}, {}
    for _, i in ipairs(pending) do
      local r = results[i]
      if items[i].key and is_error(r) and r.sent then
        lost[#lost + 1], errs[i], results[i] = i, r, nil
      end
    end
    if #lost == 0 then break end
    local failed = self:look(items, lost, results, true)
    pending = {}
    for _, i in ipairs(lost) do
      if results[i] == nil then
        if attempt == 2 or failed[i] then results[i] = errs[i] else pending[#pending + 1] = i end
      end
    end
  end
  -- what started is remembered for its window
  for _, i in ipairs(keyed) do
    local item, r = items[i], results[i]
    if is_error(r) then
      if r.code == "PERMISSION_DENIED" then started_failed(r) end
    elseif r ~= nil and not r.deduplicated and r.execution then
      self:remember(item, r.execution)
    end
  end
end

return _M
