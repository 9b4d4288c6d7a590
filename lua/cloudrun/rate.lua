--- cloudrun.rate — keeping a client within Cloud Run's request quotas.
-- Cloud Run counts three kinds of request per project and region, each per
-- minute: job runs (RunJob), reads (gets, lists, operations) and writes (every
-- other change). A limiter spaces each kind's requests evenly, none closer to
-- the one before than 60/per_minute seconds, so that a quota counted per
-- minute, or refilled continuously, is never exceeded, not even at the start
-- (there is no burst to spend). It also holds a kind's requests through a
-- pause the server asked for (a 429's Retry-After or RetryInfo).
--
-- The limiter only says how long; the drivers wait, where they wait anyway:
-- before every send of a client's machine that counts against a quota
-- (cr_pacer in the core; the nginx driver's SEND step), including retries.
--
--   local limiter = rate.new({ run_per_minute =, read_per_minute =, write_per_minute = }, opts)
--   limiter:take(quota [, not_before]) -> seconds to hold the request (reserved: send then)
--   limiter:slow_down(quota, seconds)   -- the server asked for a pause
--
-- Its state is the limiter's own (one client, one process), or, inside nginx,
-- a lua_shared_dict (opts.dict): then every worker's clients naming that dict
-- share one budget. A take there is a few dict operations under a lock in the
-- dict (add with a short expiry, so that a worker that died holding it stops
-- nobody for long); it never waits on the network.
local type, pairs, tostring, error, setmetatable, max, huge =
  type, pairs, tostring, error, setmetatable, math.max, math.huge

local _M = {}

_M.QUOTAS = { run = "run_per_minute", read = "read_per_minute", write = "write_per_minute" }
local OPTION_QUOTA = {}
for quota, option in pairs(_M.QUOTAS) do OPTION_QUOTA[option] = quota end

--- The seconds between two requests of each quota, from a `rate` table:
-- { run = 0.5, ... } (a quota without a limit is absent). Misuse raises,
-- naming `what` (the option) at `level`.
function _M.intervals(limits, what, level)
  level = (level or 1) + 1
  local out = {}
  if limits == nil then return out end
  if type(limits) ~= "table" then
    error(what .. " must be a table { run_per_minute =, read_per_minute =, write_per_minute = } (got "
      .. type(limits) .. ")", level)
  end
  for k, v in pairs(limits) do
    local quota = OPTION_QUOTA[k]
    if not quota then
      error(what .. ": unknown field '" .. tostring(k) .. "' (run_per_minute, read_per_minute, write_per_minute)",
        level)
    end
    if type(v) ~= "number" or v ~= v or v <= 0 or v == huge then
      error(what .. ": field '" .. k .. "' must be a number of requests a minute above 0 (got "
        .. tostring(v) .. ")", level)
    end
    out[quota] = 60 / v
  end
  return out
end

local Limiter = {}
Limiter.__index = Limiter

--- rate.new(limits, { now = clock [, dict = lua_shared_dict, sleep = fn] })
-- now: seconds on a clock every sharer reads alike (a monotonic one alone; the
-- wall clock with a dict: workers are processes). sleep: how to wait for the
-- dict's lock (ngx.sleep).
function _M.new(limits, opts)
  return setmetatable({
    _interval = _M.intervals(limits, "rate", 2),
    _now = opts.now,
    _dict = opts.dict,
    _sleep = opts.sleep,
    _last = {},  -- quota -> the time reserved for its last request (without a dict)
    _pause = {}, -- quota -> nothing of it goes before this time (without a dict)
  }, Limiter)
end

--- Whether the limiter spaces `quota` at all.
function Limiter:limits(quota)
  return self._interval[quota] ~= nil
end

-- The one rule, on whatever holds the state: the time this request may go.
local function reserve(interval, now, last, pause, not_before)
  local t = max(now, pause or now, not_before or now)
  if interval and last then t = max(t, last + interval) end
  return t
end

-- Runs fn() with the dict's lock of `key` held. The section is a few dict
-- operations that never yield: a worker that finds it taken tries again at
-- once a few times, then between short sleeps.
local function locked(self, key, fn)
  local dict, tries = self._dict, 0
  while true do
    local ok, err = dict:add(key, true, 0.1)
    if ok then break end
    if err ~= "exists" then return fn() end -- no room for the lock in a full dict: on without it
    tries = tries + 1
    if tries > 50 then self._sleep(0.001) end
  end
  local a, b = fn()
  dict:delete(key)
  return a, b
end

--- The seconds to hold a request of `quota` ("run", "read", "write"), not
-- before the time not_before (on the limiter's clock) if given; the slot is
-- taken, so the caller sends once they are over. Second: that time.
function Limiter:take(quota, not_before)
  local interval = self._interval[quota]
  if not self._dict then
    local now = self._now()
    local at = reserve(interval, now, self._last[quota], self._pause[quota], not_before)
    if interval then self._last[quota] = at end
    return at - now, at
  end
  local dict, prefix = self._dict, "cloudrun:rate:" .. quota
  return locked(self, prefix .. ":lock", function()
    local now = self._now() -- after the lock: the wait for it counts
    local at = reserve(interval, now, dict:get(prefix .. ":last"), dict:get(prefix .. ":pause"), not_before)
    -- kept only while it can still matter (a reservation older than one interval no longer does)
    if interval then dict:set(prefix .. ":last", at, at - now + interval + 1) end
    return at - now, at
  end)
end

--- The server asked for `seconds` of quiet on `quota`: every request of it
-- on this limiter (every worker's, with a dict) waits until they are over.
function Limiter:slow_down(quota, seconds)
  if type(seconds) ~= "number" or seconds ~= seconds or seconds <= 0 then return end
  local now = self._now()
  local until_ = now + seconds
  if not self._dict then
    self._pause[quota] = max(self._pause[quota] or until_, until_)
    return
  end
  local dict, prefix = self._dict, "cloudrun:rate:" .. quota
  locked(self, prefix .. ":lock", function()
    local was = dict:get(prefix .. ":pause")
    if not was or was < until_ then dict:set(prefix .. ":pause", until_, seconds + 1) end
  end)
end

--[[
The pacer of one run_jobs with its own per_minute, on top of the client's
limiter: a RunJob goes no sooner than the run's spacing allows and than the
client's budget allows, and the run's next one is spaced from when this one
really goes. `turn` serializes the two steps where light threads could
interleave between them (nginx; a no-op where the multi driver asks in turn).
Other quotas go to the client's limiter alone.
]]
function _M.for_run(client_limiter, per_minute, now, turn)
  local interval = 60 / per_minute
  local last
  return function(quota)
    if quota ~= "run" then return client_limiter:take(quota) end
    return turn(function()
      local held, at = client_limiter:take(quota, reserve(interval, now(), last))
      last = at
      return held
    end)
  end
end

return _M
