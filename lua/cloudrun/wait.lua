--- cloudrun.wait — following an execution to its end. Polls GetExecution
-- with growing intervals (the Execution carries the counts that progress
-- reports need; the Operation does not), tolerates transient read failures
-- within the deadline, and returns the final Execution however it ended.
local core = require("cloudrun.core")

local type, error, tostring, ipairs, pairs, concat, min, random =
  type, error, tostring, ipairs, pairs, table.concat, math.min, math.random

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

local wait_options = { timeout = "number", on_progress = "function", interval = "number", max_interval = "number" }

function _M.execution(client, target, opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    error("bad argument #2 to 'wait' (table of options expected, got " .. type(opts) .. ")", 3)
  end
  for k, v in pairs(opts) do
    if not wait_options[k] then error("wait: unknown option '" .. tostring(k) .. "'", 3) end
    if type(v) ~= wait_options[k] then
      error("wait: option '" .. k .. "' must be a " .. wait_options[k] .. " (got " .. type(v) .. ")", 3)
    end
  end
  local name = execution_name(target)
  if not name then
    error("bad argument #1 to 'wait' (an Operation from run_job, an Execution or an execution name expected)", 3)
  end
  local sleep, now = core.sleep, core.monotonic
  if client._driver then -- inside nginx: sleeping must not block the worker either
    sleep, now = ngx.sleep, function() ngx.update_time(); return ngx.now() end
  end
  local deadline = opts.timeout and now() + opts.timeout
  local interval, max_interval = opts.interval or 0.2, opts.max_interval or 10
  local on_progress, last_key = opts.on_progress, nil

  while true do
    -- each poll retries transient failures itself, but never past the wait's own deadline
    local poll_opts = deadline and { retry = { deadline = math.max(0.05, deadline - now()) } } or nil
    local e, err = client:get_execution(name, poll_opts)
    if e then
      local key = progress_key(e)
      if on_progress and key ~= last_key then on_progress(e) end
      last_key = key
      if finished(e) then return e end
    elseif not err.retryable then
      return nil, err
    end
    local delay = interval
    if deadline then
      local left = deadline - now()
      if left <= 0 then
        return nil, core.error("DEADLINE_EXCEEDED", "waiting for " .. name .. ": not finished after "
          .. tostring(opts.timeout) .. " s" .. (err and (" (last error: " .. tostring(err) .. ")") or ""))
      end
      delay = min(delay, left)
    end
    sleep(delay)
    -- grow by 1.5x with a little jitter so that many waiters do not poll in step
    interval = min(max_interval, interval * (1.4 + 0.2 * random()))
  end
end

return _M
