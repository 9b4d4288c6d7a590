--- cloudrun.ngx — the nginx driver: runs the core's step machines with
-- cosockets so that a call never blocks the worker. SEND is one HTTP/1.1
-- exchange (cloudrun.ngx_http), WAIT is ngx.sleep, TOKEN goes to a token
-- store: a lua_shared_dict shared by every worker (one fetch at a time across
-- all of them, the others waiting with ngx.sleep), or a table of the
-- worker's own. Whether a token is fresh is the machine's to say; this file
-- only keeps tokens and makes sure one fetch serves everyone waiting. A
-- client's pacer (cloudrun.rate) holds a send back with ngx.sleep too.
local core = require("cloudrun.core")
local http = require("cloudrun.ngx_http")

local ngx = ngx
local type, tonumber, tostring, setmetatable, getmetatable, error, pcall =
  type, tonumber, tostring, setmetatable, getmetatable, error, pcall
local min, floor = math.min, math.floor

local _M = {}

-- The phases where nginx offers cosockets and ngx.sleep.
local COSOCKET_PHASES = {
  rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true,
}

--- Whether this Lua runs inside nginx's Lua module.
function _M.available()
  return type(ngx) == "table" and type(ngx.get_phase) == "function" and type(ngx.socket) == "table"
    and type(ngx.socket.tcp) == "function"
end

--- true, or nil, err naming the phase when a call cannot be made in it.
function _M.check_phase(what)
  local phase = ngx.get_phase()
  if COSOCKET_PHASES[phase] then return true end
  return nil, core.error("FAILED_PRECONDITION", ("%s needs nginx's cosockets, which the %s phase does not offer: "
    .. "call it from rewrite_by_lua*, access_by_lua*, content_by_lua* or a timer (ngx.timer.at(0, fn) from "
    .. "init_worker_by_lua*)"):format(what, phase))
end

-- ---- token stores -------------------------------------------------------------

-- A worker's own store, with the part of ngx.shared.DICT's interface the
-- driver uses (values expire like the dict's).
local Local = {}
Local.__index = Local

local function local_store()
  return setmetatable({ v = {}, exp = {} }, Local)
end

function Local:get(k)
  local e = self.exp[k]
  if e and e <= ngx.now() then
    self.v[k], self.exp[k] = nil, nil
  end
  return self.v[k]
end

function Local:set(k, v, ttl)
  self.v[k] = v
  self.exp[k] = ttl and ttl > 0 and ngx.now() + ttl or nil
  return true
end

function Local:add(k, v, ttl)
  if self:get(k) ~= nil then return false, "exists" end
  return self:set(k, v, ttl)
end

function Local:delete(k)
  self.v[k], self.exp[k] = nil, nil
end

function Local:incr(k, by, init)
  local n = (self:get(k) or init) + by
  self.v[k] = n
  return n
end

local worker_store = local_store()

--- The token store for a client: the lua_shared_dict named `name`, or the worker's own.
function _M.store(name)
  if name == nil then return worker_store end
  local dict = ngx.shared and ngx.shared[name]
  if not dict then
    error("client: option 'shared_dict': there is no lua_shared_dict named '" .. tostring(name)
      .. "' (declare it in nginx's http block: lua_shared_dict " .. tostring(name) .. " 1m;)", 3)
  end
  return dict
end

-- A stored token is "<expires_at>|<token>".
local function unpack_token(v)
  if type(v) ~= "string" then return nil end
  local exp, token = v:match("^(%d+)|(.+)$")
  return token, tonumber(exp)
end

-- ---- running machines ---------------------------------------------------------

local run

-- A new token for `what` (a TOKEN step): its fetch machine, run here.
local function fetch(what, store)
  local fm, err = what.credentials:fetch_machine(what.within)
  if not fm then return nil, err end
  run(fm, store)
  return fm:token_result()
end

local function fail(m, err)
  m:fail(err.code or "UNKNOWN", err.message or tostring(err), err.sent, err.status)
end

--[[
A TOKEN step. fresh = false: the stored token, whatever its age (the machine
judges it). fresh = true: drop `stale` if it is still stored, then one fetch
for everyone: whoever adds the lock key fetches; the others sleep (a little
longer each time) until the generation moves on, and take its token — or its
error, so that a dead token endpoint is asked once, not once per waiter.
]]
local function give_token(m, what, store)
  local tkey = "cloudrun:token:" .. what.key
  local token, exp = unpack_token(store:get(tkey))
  if not what.fresh then
    m:token(token, exp)
    return
  end
  if token and what.stale and token == what.stale then
    store:delete(tkey)
    if what.refused then what.credentials:refused() end
    token = nil
  end
  if token then
    m:token(token, exp)
    return
  end
  local lkey, gkey, ekey = "cloudrun:lock:" .. what.key, "cloudrun:gen:" .. what.key, "cloudrun:error:" .. what.key
  local within = what.within and what.within > 0 and what.within or 30
  local deadline = ngx.now() + within
  local gen = store:get(gkey) or 0
  local pause = 0.005
  while true do
    if store:add(lkey, ngx.worker.pid(), within + 5) then
      local t, e = fetch(what, store)
      if t then
        -- kept until it expires (a token of unknown expiry: until the machine judges it stale)
        store:set(tkey, floor(e or 0) .. "|" .. t, e and math.max(1, e - ngx.time()) or 0)
      else
        store:set(ekey, tostring(e.code) .. "\n" .. tostring(e.status or 0) .. "\n" .. tostring(e.message), 5)
      end
      store:incr(gkey, 1, 0)
      store:delete(lkey)
      if t then m:token(t, e) else fail(m, e) end
      return
    end
    ngx.sleep(pause)
    pause = min(pause * 2, 0.1)
    local now_gen = store:get(gkey) or 0
    if now_gen ~= gen then
      token, exp = unpack_token(store:get(tkey))
      if token and token ~= what.stale then
        m:token(token, exp)
        return
      end
      local stored = store:get(ekey)
      if stored then
        local code, status, message = stored:match("^(.-)\n(%d+)\n(.*)$")
        m:fail(code, message, false, tonumber(status))
        return
      end
      gen = now_gen
    end
    if ngx.now() >= deadline then
      m:fail("DEADLINE_EXCEEDED", ("waited %gs for another fetch of the token of %s"):format(within, what.key))
      return
    end
  end
end

--- Runs machine m to its end with cosockets, tokens from `store`; pace: a
-- client's {before = fn(quota) -> seconds, server_wait = fn(quota, seconds)} or nil.
function run(m, store, pace)
  while true do
    local kind, what = m:step()
    if kind == "send" then
      local quota = pace and what.quota
      if quota then
        local hold = pace.before(quota)
        if hold > 0 then ngx.sleep(hold) end
      end
      local ran, status, headers_or_failure, body = pcall(http.request, what)
      if not ran then
        -- a bug of the reader's (it answers every server with nil, failure): this call fails, not the
        -- request handler nor a run_jobs thread; the request may have gone out
        m:fail("INTERNAL", ("%s %s: the nginx driver failed: %s"):format(what.method, what.url, tostring(status)), true)
      elseif status then
        m:respond(status, headers_or_failure, body)
      else
        local f = headers_or_failure
        m:fail(f.code, f.message, f.sent)
      end
      if quota then
        local asked = m:server_wait()
        if asked > 0 then pace.server_wait(quota, asked) end
      end
    elseif kind == "wait" then
      ngx.sleep(what)
      m:waited()
    elseif kind == "token" then
      give_token(m, what, store)
    else
      return
    end
  end
end
_M.run = run

-- ---- what the client and credentials use --------------------------------------

local Driver = {}
Driver.__index = Driver

--- A driver for a client: its token store (shared_dict name or nil). Its
-- `pace` (set by the client) holds its sends back.
function _M.new(shared_dict)
  return setmetatable({ store = _M.store(shared_dict) }, Driver)
end

--- core:<method>(...) as a machine run here: the resource, or nil, err.
function Driver:call(handle, method, ...)
  local ok, err = _M.check_phase("client:" .. method)
  if not ok then return nil, err end
  local m
  m, err = handle:start(method, ...)
  if not m then return nil, err end
  run(m, self.store, self.pace)
  return m:result()
end

--- Makes sure project and region are known (a machine: it may ask the metadata server).
function Driver:discover(handle)
  local ok, err = _M.check_phase("client name lookup")
  if not ok then return nil, err end
  local m = handle:discovery()
  run(m, self.store)
  return m:result()
end

--[[
run_jobs on light threads. The binding reads every entry and makes its
machine before anything is sent (a malformed entry raises, as on libcurl);
then `in_flight` threads take machines in order until none are left. Whatever
goes wrong while one runs (an error raised anywhere in it included) becomes
that entry's err; every entry gets a result, and `failed` counts the errs.
]]
function Driver:run_jobs(handle, list, opts, before)
  local ok, err = _M.check_phase("client:run_jobs")
  if not ok then return nil, err end
  local machines, in_flight = handle:start_jobs(list, opts)
  local n = #machines
  local results, next_i = {}, 1
  local store = self.store
  local pace = self.pace
  if before and pace then pace = { before = before, server_wait = pace.server_wait } end
  local function settle(i)
    local m = machines[i]
    if getmetatable(m) == core.error_mt then return m end -- it could not even start
    local ran, rerr = pcall(run, m, store, pace)
    if not ran then
      return core.error("INTERNAL", "run_jobs: entry " .. i .. " failed inside nginx: " .. tostring(rerr))
    end
    local r, merr = m:result()
    return r or merr
  end
  local function worker()
    while next_i <= n do
      local i = next_i
      next_i = i + 1
      results[i] = settle(i)
    end
  end
  local threads = {}
  for _ = 1, min(in_flight, n) do
    local th, terr = ngx.thread.spawn(worker)
    if not th then
      -- no thread: this one's share is run here, in turn
      ngx.log(ngx.WARN, "cloudrun: run_jobs could not start a light thread: ", terr)
      break
    end
    threads[#threads + 1] = th
  end
  if #threads == 0 then worker() end
  for t = 1, #threads do
    local done, werr = ngx.thread.wait(threads[t])
    if not done then ngx.log(ngx.ERR, "cloudrun: a run_jobs light thread died: ", werr) end
  end
  -- an entry a dead thread had taken (or never reached) still gets a result
  local failed = 0
  for i = 1, n do
    if results[i] == nil then
      results[i] = core.error("INTERNAL", "run_jobs: entry " .. i .. " was not run (its light thread died)")
    end
    if getmetatable(results[i]) == core.error_mt then failed = failed + 1 end
  end
  return results, failed
end

--- creds:token() inside nginx: the token machine run here, with the worker's store.
function _M.token(handle)
  local ok, err = _M.check_phase("credentials:token")
  if not ok then return nil, err end
  local m = handle:token_machine()
  run(m, worker_store)
  return m:token_result()
end

return _M
