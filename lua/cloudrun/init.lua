--- cloudrun — drive Google Cloud Run Jobs from Lua.
-- The public face: options, the client object, waiting. Tokens, HTTP and the
-- REST protocol live in the C core (cloudrun.core).
local core = require("cloudrun.core")
local auth = require("cloudrun.auth")
local rate = require("cloudrun.rate")

--[[
What only some calls need is loaded at its first use: a one-shot trigger
(`cloudrun-lua -e`, a cron line) then loads none of it, and a process start
costs less. Inside nginx everything is loaded at once, with this module
(usually in init_by_lua, before the workers fork): a request never reads a
module. lazy(name) is a stand-in table whose first field read loads it (the
CLI's modules use it too, as cloudrun._lazy).
]]
local function lazy(name)
  return setmetatable({}, {
    __index = function(t, k)
      local m = require(name)
      setmetatable(t, { __index = m })
      return m[k]
    end,
  })
end
local filter = lazy("cloudrun.filter")
local idempotency = lazy("cloudrun.idempotency")
local wait = lazy("cloudrun.wait")
if type(rawget(_G, "ngx")) == "table" then
  filter, idempotency, wait = require("cloudrun.filter"), require("cloudrun.idempotency"), require("cloudrun.wait")
end

local type, error, setmetatable, getmetatable, pairs, ipairs, tostring, pcall =
  type, error, setmetatable, getmetatable, pairs, ipairs, tostring, pcall

local _M = { _VERSION = core._VERSION, auth = auth, core = core, _lazy = lazy }

local Client = {}
Client.__index = Client
_M.Client = Client

-- Inside nginx the calls run on cosockets (cloudrun.ngx), elsewhere on libcurl
-- in the C core: auth.lua decides, for credentials and clients alike.
local nginx = auth._driver

-- The keys a process remembers (idempotency): every client of it, outside nginx
-- (made with the first client that uses a key).
local process_keys

local function ngx_clock()
  ngx.update_time()
  return ngx.now()
end

--[[
The client's pacing and keys, where its driver waits: the rate limiter
(cloudrun.rate, `rate =` and the pauses 429s ask for) is asked before every
send that counts against a quota — by the core's drivers through the pacer
functions (core's client:pace), by the nginx driver itself — and waiting is
the driver's (a sleep in C; ngx.sleep). Inside nginx with shared_dict, the
budget and the keys live in the dict, for every worker.
]]
local function pace_and_keys(self, opts, driver)
  local limiter, keys_store, now, sleep
  if driver then
    limiter = rate.new(opts.rate, { now = ngx_clock, dict = opts.shared_dict and driver.store, sleep = ngx.sleep })
    driver.pace = {
      before = function(quota) return limiter:take(quota) end,
      server_wait = function(quota, seconds) limiter:slow_down(quota, seconds) end,
    }
    keys_store, now, sleep = driver.store, ngx_clock, ngx.sleep
  else
    limiter = rate.new(opts.rate, { now = core.monotonic })
    self._core:pace(function(quota) return limiter:take(quota) end,
      function(quota, seconds) limiter:slow_down(quota, seconds) end)
    now, sleep = core.time, core.sleep
  end
  self._limiter, self._clock = limiter, driver and ngx_clock or core.monotonic
  self._keys_with = { client = self, store = keys_store, now = now, sleep = sleep, scope = (self._core:endpoint()) }
end

-- The client's keys (cloudrun.idempotency), made by its first keyed call.
local function keys(self)
  if not self._keys then
    local o = self._keys_with
    if not o.store then
      process_keys = process_keys or idempotency.memory(core.monotonic)
      o.store = process_keys
    end
    self._keys, self._keys_with = idempotency.new(o), nil
  end
  return self._keys
end

--- cloudrun.client{project=, region=, credentials=, endpoint=, timeout=, retry=, shared_dict=, rate=}
-- Returns a client, or nil, err when the credentials given cannot be loaded.
function _M.client(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    error("bad argument #1 to 'client' (table expected, got " .. type(opts) .. ")", 2)
  end
  if opts.shared_dict ~= nil and type(opts.shared_dict) ~= "string" then
    error("client: option 'shared_dict' must be a string (got " .. type(opts.shared_dict) .. ")", 2)
  end
  rate.intervals(opts.rate, "client: option 'rate'", 2)
  local handle, err
  local creds = opts.credentials
  if creds == false then
    handle = false
  elseif creds ~= nil then
    handle, err = auth.handle(creds)
    if handle == nil then
      if err == nil then
        error("client: option 'credentials' must be a path, a decoded key table, a cloudrun.auth object or false", 2)
      end
      return nil, err
    end
  end
  local driver
  local d = nginx()
  if d then
    driver = d.new(opts.shared_dict)
  elseif opts.shared_dict ~= nil then
    error("client: option 'shared_dict' names a lua_shared_dict, which needs nginx's Lua module", 2)
  end
  if driver and opts.ca_file then
    error("client: option 'ca_file': inside nginx, TLS trusts lua_ssl_trusted_certificate", 2)
  end
  -- every other option is the core's to check (project, region, endpoint, timeout, retry, ca_file)
  local o = {}
  for k, v in pairs(opts) do
    if k ~= "shared_dict" and k ~= "credentials" and k ~= "rate" then o[k] = v end
  end
  o.credentials = handle
  local c, cerr = core.client(o)
  if not c then return nil, cerr end
  local self = setmetatable({ _core = c, _credentials = creds, _driver = driver }, Client)
  pace_and_keys(self, opts, driver)
  return self
end

-- The API leaves out counts that are zero (proto3 defaults); Google's client
-- libraries give 0 for them, and so do Execution and Task tables here. Only a
-- read of a missing field answers 0: the table holds what the API sent (what
-- json encoding and --format json print).
local EXECUTION_COUNTS = {
  taskCount = true, parallelism = true, runningCount = true, succeededCount = true, failedCount = true,
  cancelledCount = true, retriedCount = true,
}
local TASK_COUNTS = { index = true, retried = true, maxRetries = true }
local execution_mt = { __index = function(_, k) if EXECUTION_COUNTS[k] then return 0 end end }
local task_mt = { __index = function(_, k) if TASK_COUNTS[k] then return 0 end end }
_M.execution_mt, _M.task_mt = execution_mt, task_mt

local function counted(resource, mt)
  if type(resource) == "table" and getmetatable(resource) == nil then setmetatable(resource, mt) end
  return resource
end

local function counted_list(page, field, mt)
  if type(page) == "table" and type(page[field]) == "table" then
    for _, r in ipairs(page[field]) do counted(r, mt) end
  end
  return page
end

-- What each method's result holds that reads counts as 0.
local shapes = {
  get_execution = function(r) return counted(r, execution_mt) end,
  list_executions = function(r) return counted_list(r, "executions", execution_mt) end,
  get_task = function(r) return counted(r, task_mt) end,
  list_tasks = function(r) return counted_list(r, "tasks", task_mt) end,
}

-- One API call: on the client's driver inside nginx, else the core's own.
local function call(self, method, ...)
  local result, err
  if self._driver then
    result, err = self._driver:call(self._core, method, ...)
  else
    result, err = self._core[method](self._core, ...)
  end
  if result and shapes[method] then result = shapes[method](result) end
  return result, err
end

-- Every API method of the core's method table: its arguments and options are
-- read and checked by the binding against the same table on every driver
-- (errors name the caller's line), so here each is just the call.
for _, d in ipairs(core.methods) do
  local method = d.name
  Client[method] = function(self, ...) return call(self, method, ...) end
end

local function is_error(v)
  return type(v) == "table" and getmetatable(v) == core.error_mt
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- Every argument of a run_job checked (a raise for misuse), as the call would
-- check them, without sending anything: nil, err for a name wrong in itself.
local function check_run_job(self, job, opts)
  local m, err = self._core:start("run_job", job, opts)
  if not m then return nil, err end
  m:close()
  return true
end

--- client:run_job(job, {..., idempotency_key =, idempotency_window =})
-- With a key: at most one execution per job and key within the window (see
-- cloudrun.idempotency); what was there already comes back as
-- { execution = NAME, deduplicated = true }.
function Client:run_job(job, opts)
  if type(opts) ~= "table" or (opts.idempotency_key == nil and opts.idempotency_window == nil) then
    return call(self, "run_job", job, opts)
  end
  local key, window = idempotency.options(opts, "run_job", 2)
  local o = idempotency.overrides(opts, key, "run_job", 2)
  local ok, err = check_run_job(self, job, o)
  if not ok then return nil, err end
  if self._driver then
    ok, err = nginx().check_phase("client:run_job")
    if not ok then return nil, err end
  end
  local results = keys(self):run({ { job = job, entry = o, key = key, window = window } }, function(entries)
    local op, rerr = call(self, "run_job", job, entries[1])
    return { op or rerr }
  end, {})
  if is_error(results[1]) then return nil, results[1] end
  return results[1]
end

-- Light threads of one run_jobs take their turn at its pacer one at a time
-- (a take may yield inside nginx); the multi driver asks in turn anyway.
local function turns(driver)
  if not driver then return function(fn) return fn() end end
  local busy = false
  return function(fn)
    while busy do ngx.sleep(0.001) end
    busy = true
    local ok, a, b = pcall(fn)
    busy = false
    if not ok then error(a, 0) end
    return a, b
  end
end

--- client:run_jobs({ {job=, args=, env=, ..., idempotency_key=}, ... }, {in_flight=, per_minute=, retry=})
-- -> results, nfailed: in the order given, each the Operation (with
-- .execution), a keyed entry's { execution =, deduplicated = true }, or an
-- err table (cloudrun.is_error); one failure never hides the others. At most
-- in_flight (default 16) are on the wire at once, and with per_minute no two
-- RunJobs closer than 60/per_minute seconds (within the client's rate as well).
-- Every entry is checked before anything is sent.
function Client:run_jobs(list, opts)
  local per_minute
  if type(opts) == "table" and opts.per_minute ~= nil then
    per_minute = opts.per_minute
    if type(per_minute) ~= "number" or per_minute ~= per_minute or per_minute <= 0 or per_minute == math.huge then
      error("run_jobs: option 'per_minute' must be a number of RunJobs a minute above 0 (got "
        .. tostring(per_minute) .. ")", 2)
    end
    opts = copy(opts)
    opts.per_minute = nil
  end
  local driver = self._driver
  local before = per_minute and rate.for_run(self._limiter, per_minute, self._clock, turns(driver)) or nil
  local function batch(entries)
    if driver then return driver:run_jobs(self._core, entries, opts, before) end
    return self._core:run_jobs(entries, opts, before)
  end
  local keyed = false
  if type(list) == "table" then
    for _, e in ipairs(list) do
      keyed = keyed or type(e) == "table" and (e.idempotency_key ~= nil or e.idempotency_window ~= nil)
    end
  end
  if not keyed then return batch(list) end
  local plain, items = {}, {}
  for i, e in ipairs(list) do
    local where, entry, key, window = "run_jobs: entry " .. i, e, nil, nil
    if type(e) == "table" then
      key, window = idempotency.options(e, where, 2)
      if key then entry = idempotency.overrides(e, key, where, 2) end
    end
    plain[i], items[i] = entry, { job = type(e) == "table" and e.job or nil, entry = entry, key = key, window = window }
  end
  self._core:start_jobs(plain, opts) -- every entry checked (a raise) before any look-up or send
  if driver then
    local ok, err = nginx().check_phase("client:run_jobs")
    if not ok then return nil, err end
  end
  local results = keys(self):run(items, function(entries) return (batch(entries)) end, {})
  local failed = 0
  for i = 1, #items do
    if is_error(results[i]) then failed = failed + 1 end
  end
  return results, failed
end

-- The iterators exist only here: their arguments are checked when they are made.
local function check_name(fn, value, argn, what)
  if type(value) ~= "string" or value == "" then
    error("bad argument #" .. argn .. " to '" .. fn .. "' (" .. what .. " name expected, got "
      .. (value == "" and "an empty string" or type(value)) .. ")", 3)
  end
end

local function check_opts(fn, opts, argn)
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #" .. argn .. " to '" .. fn .. "' (table of options expected, got " .. type(opts) .. ")", 3)
  end
end

-- Iterators over every resource across pages: for job in client:each_jobs() do ... end.
-- A generic `for` stops at the first nil, so an iterator cannot hand out
-- `nil, err`: a failed page request raises its err table instead (pcall gets
-- the same table, with code, message, status...), and the loop never ends as
-- if the list were complete. keep (the `filter =` option) skips what it refuses,
-- on the client as gcloud filters: pages go on until one has a keeper or the list ends.
local function pager(fetch, field, opts, keep)
  opts = opts or {}
  local page, i, token, done = nil, 0, opts.page_token, false
  return function()
    while true do
      while page and i < #page do
        i = i + 1
        local item = page[i]
        if not keep or keep(item) then return item end
      end
      if done then return nil end
      local o = {}
      for k, v in pairs(opts) do
        if k ~= "filter" then o[k] = v end
      end
      o.page_token = token
      local resp, err = fetch(o)
      if not resp then
        done = true
        error(err, 0)
      end
      page, i = resp[field] or {}, 0
      token = resp.nextPageToken
      if token == nil or token == "" then done = true end
    end
  end
end

-- The `filter =` option: a predicate function, or an expression in gcloud's
-- filter language (cloudrun.filter), which is checked here, as misuse.
local function keeper(fn, opts, argn)
  local f = opts and opts.filter
  if f == nil or type(f) == "function" then return f end
  if type(f) ~= "string" then
    error("bad argument #" .. argn .. " to '" .. fn .. "' (option 'filter' must be a function or a filter "
      .. "expression, got " .. type(f) .. ")", 3)
  end
  local keep, err = filter.compile(f)
  if not keep then error("bad argument #" .. argn .. " to '" .. fn .. "' (option 'filter': " .. err .. ")", 3) end
  return keep
end

-- each_jobs(opts), each_executions(job|nil, opts), each_tasks(execution, opts),
-- each_operations(opts): one per list method of the table, taking its arguments,
-- and filter = (a function of the resource, or an expression) besides the method's own options.
local NOUN = { jobs = "job", executions = "execution", tasks = "task", operations = "operation" }
for _, d in ipairs(core.methods) do
  local field = d.name:match("^list_(%w+)$")
  if field then
    local fn, method, takes = "each_" .. field, d.name, d.takes
    Client[fn] = function(self, ...)
      if takes == "opts" then
        local opts = ...
        check_opts(fn, opts, 1)
        local keep = keeper(fn, opts, 1)
        return pager(function(o) return call(self, method, o) end, field, opts, keep)
      end
      local name, opts = ...
      if name ~= nil or takes == "name" then check_name(fn, name, 1, NOUN[d.kind]) end
      check_opts(fn, opts, 2)
      local keep = keeper(fn, opts, 2)
      return pager(function(o) return call(self, method, name, o) end, field, opts, keep)
    end
  end
end

--- client:wait(op_or_execution, {timeout=, on_progress=, interval=, max_interval=})
-- -> the final Execution (succeeded, failed or cancelled) | nil, err
function Client:wait(target, opts)
  return wait.execution(self, target, opts)
end

--- client:wait_all(list, {timeout=, on_progress=, interval=, max_interval=}) -> executions, failed
-- list: Operations (run_job's), run_job or run_jobs results, Executions or execution names, of
-- any jobs. executions: in the order given, each the final Execution or the err that kept it
-- from being waited for; failed: how many did not succeed. One ListExecutions per job a round
-- (cloudrun.wait).
function Client:wait_all(list, opts)
  return wait.all(self, list, opts)
end

--- The full resource name for a short job, execution, task or operation id.
for _, what in ipairs({ "job", "execution", "task", "operation" }) do
  local method = what .. "_name"
  Client[method] = function(self, name)
    check_name(method, name, 1, what)
    if self._driver then
      -- project and region may have to be found first: on cosockets
      local ok, err = self._driver:discover(self._core)
      if not ok and not name:find("^projects/") then return nil, err end
    end
    return self._core[method](self._core, name)
  end
end

--- Where requests go, and whether credentials are left out (emulator mode).
function Client:endpoint()
  return self._core:endpoint()
end

function Client:close()
  self._core:close()
end
Client.__close = Client.close

-- ---- the task side ------------------------------------------------------------

--- cloudrun.task() -> { index =, count =, attempt =, execution =, job =, in_cloud_run = }
-- What Cloud Run tells a running task (CLOUD_RUN_TASK_INDEX, CLOUD_RUN_TASK_COUNT,
-- CLOUD_RUN_TASK_ATTEMPT, CLOUD_RUN_EXECUTION, CLOUD_RUN_JOB). Outside Cloud Run
-- (none of them set) the task is index 0 of 1, attempt 0, so that the same code
-- does the whole of the work when run by hand.
function _M.task()
  local function number(name, default)
    local v = os.getenv(name)
    local n = tonumber(v)
    if v ~= nil and (not n or n < 0 or n % 1 ~= 0) then
      error("cloudrun.task: $" .. name .. " is not a whole number (" .. tostring(v) .. ")", 2)
    end
    return n or default
  end
  local t = {
    index = number("CLOUD_RUN_TASK_INDEX", 0),
    count = number("CLOUD_RUN_TASK_COUNT", 1),
    attempt = number("CLOUD_RUN_TASK_ATTEMPT", 0),
    execution = os.getenv("CLOUD_RUN_EXECUTION"),
    job = os.getenv("CLOUD_RUN_JOB"),
  }
  t.in_cloud_run = os.getenv("CLOUD_RUN_TASK_INDEX") ~= nil
  if t.count < 1 or t.index >= t.count then
    error(("cloudrun.task: task index %d is not below the task count %d"):format(t.index, t.count), 2)
  end
  return t
end

--- cloudrun.shard(list [, task]) -> this task's contiguous share of list (a new list).
-- The rule: with n items and c tasks, task i (0-based) takes the items from
-- floor(i*n/c)+1 to floor((i+1)*n/c): shares in order, their sizes differing by
-- at most one, every item in exactly one share. task defaults to cloudrun.task().
function _M.shard(list, task)
  if type(list) ~= "table" then
    error("bad argument #1 to 'shard' (list expected, got " .. type(list) .. ")", 2)
  end
  task = task or _M.task()
  if type(task) ~= "table" or type(task.index) ~= "number" or type(task.count) ~= "number" then
    error("bad argument #2 to 'shard' (a task {index=, count=} expected)", 2)
  end
  local n, c, i = #list, task.count, task.index
  if c < 1 or c % 1 ~= 0 or i < 0 or i % 1 ~= 0 or i >= c then
    error(("bad argument #2 to 'shard' (index %s of count %s: a whole index from 0 below a whole count from 1)")
      :format(tostring(i), tostring(c)), 2)
  end
  local from, to = math.floor(i * n / c) + 1, math.floor((i + 1) * n / c)
  local share = {}
  for k = from, to do share[#share + 1] = list[k] end
  return share
end

--- cloudrun.error(code, message [, status]) — an error value like the ones calls return.
function _M.error(code, message, status, ...)
  return core.error(code, message, status, ...)
end

local error_mt = core.error_mt

--- cloudrun.is_error(value) -> whether value is an err table (as run_jobs' results may be).
function _M.is_error(value)
  return type(value) == "table" and getmetatable(value) == error_mt
end

_M.json = { encode = core.json_encode, decode = core.json_decode }

-- Nothing else may sneak in: a typo such as cloudrun.clinet is an error.
return setmetatable(_M, {
  __index = function(_, k)
    error("cloudrun has no field '" .. tostring(k) .. "'", 2)
  end,
})
