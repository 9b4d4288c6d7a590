--- cloudrun.cli.progress — following executions from the command line. On
-- a terminal one line updated in place (for one execution: elapsed time, the
-- stage, tasks running/succeeded/failed of the total; for several: how many
-- are done); in a pipe one plain line per change, or per execution ended.
-- Polls briskly at first (completion is noticed within about a second or two)
-- and backs off only for long executions. Ctrl-C stops the waiting, not the
-- executions.
local cloudrun = require("cloudrun")
local common = require("cloudrun.cli.common")
local core = require("cloudrun.core")
local wait = require("cloudrun.wait")

local io, string, math = io, string, math

local _M = {}

--- The stage of an execution, as a person would say it.
function _M.stage(e)
  if wait.finished(e) then return "done" end
  local total = e.taskCount
  local ended = e.succeededCount + e.failedCount + e.cancelledCount
  if total > 0 and ended >= total then return "finishing" end
  if not e.startTime and e.runningCount == 0 and ended == 0 then return "queued" end
  return "running"
end

local function clock(seconds)
  seconds = math.floor(seconds)
  if seconds < 60 then return seconds .. "s" end
  if seconds < 3600 then return ("%dm%02ds"):format(math.floor(seconds / 60), seconds % 60) end
  return ("%dh%02dm"):format(math.floor(seconds / 3600), math.floor(seconds % 3600 / 60))
end
_M.clock = clock

--- The line that says where an execution is.
function _M.line(e, elapsed)
  local parts = {
    ("%s %-9s tasks: %d running, %d succeeded, %d failed"):format(clock(elapsed), _M.stage(e), e.runningCount,
      e.succeededCount, e.failedCount),
  }
  if e.cancelledCount > 0 then parts[#parts + 1] = (", %d cancelled"):format(e.cancelledCount) end
  parts[#parts + 1] = (" of %d"):format(e.taskCount)
  if e.retriedCount > 0 then parts[#parts + 1] = (" (%d retried)"):format(e.retriedCount) end
  return table.concat(parts)
end

-- How long to wait before the next look: 0.5 s for the first 30 s, then
-- longer, up to 5 s for an execution that has run for many minutes.
local function interval(elapsed)
  if elapsed < 30 then return 0.5 end
  if elapsed < 120 then return 1 end
  if elapsed < 600 then return 2 end
  return 5
end
_M.interval = interval

--[[
follow(client, name) -> execution | nil, err | nil, nil, "interrupted"
Shows progress on stderr until the execution is done. The polls retry
transient failures themselves (five polls in a row without an answer end it, as
client:wait); Ctrl-C ends the wait (the execution goes on).
]]
function _M.follow(client, name)
  local tty = core.isatty(2)
  local started = core.monotonic()
  local last, width, unanswered = nil, 0, 0
  core.catch_interrupt()
  while true do
    local e, err = client:get_execution(name)
    local elapsed = core.monotonic() - started
    unanswered = e and 0 or unanswered + 1
    if not e and (not err.retryable or unanswered >= wait.UNANSWERED) then -- as client:wait gives up
      if tty and width > 0 then io.stderr:write("\n") end
      return nil, err
    end
    if e then
      local line = _M.line(e, elapsed)
      if tty then
        -- one line, rewritten: \r and enough spaces to cover a longer earlier one
        io.stderr:write("\r", line, string.rep(" ", math.max(0, width - #line)))
        width = #line
      elseif line:gsub("^%S+ ", "") ~= last then
        io.stderr:write(line, "\n")
        last = line:gsub("^%S+ ", "")
      end
      io.stderr:flush()
      if wait.finished(e) then
        if tty then io.stderr:write("\n") end
        return e
      end
    end
    if core.sleep(interval(elapsed)) or core.interrupted() then
      if tty and width > 0 then io.stderr:write("\n") end
      return nil, nil, "interrupted"
    end
  end
end

--[[
follow_all(client, names) -> executions, failed, interrupted
Several executions at once with client:wait_all (one ListExecutions per job a
round): a line per execution as it ends (its outcome, and for a failed one the
command that shows its logs), and on a terminal a line below them, rewritten,
saying how many are done. Ctrl-C ends the wait (the executions go on):
interrupted is then true.
]]
function _M.follow_all(client, names)
  local tty = core.isatty(2)
  local n = #names
  local latest, ended, width = {}, {}, 0
  local function status()
    local done, good, bad = 0, 0, 0
    for i = 1, n do
      local e = latest[i]
      if e and wait.finished(e) then
        done = done + 1
        if wait.succeeded(e) then good = good + 1 else bad = bad + 1 end
      end
    end
    return ("%d of %d done: %d succeeded, %d failed"):format(done, n, good, bad)
  end
  local function rewrite(line)
    io.stderr:write("\r", line, string.rep(" ", math.max(0, width - #line)))
    width = #line
    io.stderr:flush()
  end
  core.catch_interrupt()
  local executions, failed = client:wait_all(names, {
    interval = 0.5, max_interval = 2,
    on_progress = function(e, i)
      latest[i] = e
      if wait.finished(e) and not ended[e.name] then
        ended[e.name] = true
        if tty and width > 0 then rewrite("") io.stderr:write("\r") end
        local id = common.short(e.name)
        if wait.succeeded(e) then
          common.say(("Execution [%s] has successfully completed: %d task(s) succeeded."):format(id, e.succeededCount))
        else
          local _, message = common.condition(e, "Completed")
          common.say(("Execution [%s] failed: %s (logs: cloudrun jobs executions logs %s)"):format(id,
            message or "see its tasks", id))
        end
      end
      if tty then rewrite(status()) end
    end,
  })
  if tty and width > 0 then io.stderr:write("\n") end
  return executions, failed, core.interrupted()
end

--- What to say when an execution ended: the outcome, each failed task's exit
-- code or reason, and the command that shows its logs.
function _M.report(client, e, id)
  local state, message = common.condition(e, "Completed")
  if state == "CONDITION_SUCCEEDED" then
    common.say(("Execution [%s] has successfully completed: %d task(s) succeeded."):format(id, e.succeededCount))
    return true
  end
  common.say(("Execution [%s] failed: %s"):format(id, message or "see its tasks"))
  local ok, tasks = pcall(function()
    local out = {}
    for t in client:each_tasks(e.name) do out[#out + 1] = t end
    return out
  end)
  if ok then
    for _, t in ipairs(tasks) do
      local tstate, tmessage = common.condition(t, "Completed")
      if tstate == "CONDITION_FAILED" then
        local last = t.lastAttemptResult or {}
        local why = last.exitCode and ("exit code " .. last.exitCode)
          or (last.termSignal and ("signal " .. last.termSignal)) or tmessage or "failed"
        common.say(("  task %d: %s"):format(t.index, why))
      end
    end
  end
  common.say(("Logs: cloudrun jobs executions logs %s"):format(id))
  return false
end

--- What to say when Ctrl-C ended the wait for several executions: the ones not done go on.
function _M.interrupted_all(executions, names)
  local left = {}
  for i, e in ipairs(executions) do
    -- what Ctrl-C stopped (wait_all's CANCELLED), not what was never found
    if cloudrun.is_error(e) and e.code == "CANCELLED" then left[#left + 1] = common.short(names[i]) end
  end
  common.say(("\nStopped waiting; %d execution(s) go on. To follow them:"):format(#left))
  common.say("  cloudrun jobs executions wait ", table.concat(left, " "))
end

--- What to say when Ctrl-C ended the wait.
function _M.interrupted(id)
  common.say(("\nStopped waiting; execution [%s] goes on. To follow it:"):format(id))
  common.say(("  cloudrun jobs executions describe %s"):format(id))
  common.say(("  cloudrun jobs executions logs %s --follow"):format(id))
  common.say("To cancel it:")
  common.say(("  cloudrun jobs executions cancel %s"):format(id))
end

return _M
