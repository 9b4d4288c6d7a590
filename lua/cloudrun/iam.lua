--- cloudrun.iam — a job's IAM policy changed as gcloud changes it: a binding
-- added or removed (functions on a google.iam.v1.Policy table, as
-- client:get_iam_policy returns it), and the read-modify-write that makes such
-- a change safe: read the policy at version 3, change it, set it with the etag
-- it was read with, and when that fails with ABORTED (someone changed it
-- meanwhile) start again, a bounded number of times with a growing pause, as
-- gcloud does.
--
--   local iam = require("cloudrun.iam")
--   local policy, err = iam.modify(client, "report", function(p)
--     return iam.add_binding(p, "serviceAccount:web@my-project.iam.gserviceaccount.com",
--       "roles/run.jobsExecutorWithOverrides")
--   end)
local core = require("cloudrun.core")

local type, error, ipairs, setmetatable, getmetatable, tostring, random =
  type, error, ipairs, setmetatable, getmetatable, tostring, math.random
local remove = table.remove

local _M = {}

-- Lists go back to the API as JSON lists even when they are empty.
local function list(t)
  if getmetatable(t) == nil then setmetatable(t, core.array_mt) end
  return t
end

local function check(fn, policy, member, role, condition)
  if type(policy) ~= "table" then error("bad argument #1 to '" .. fn .. "' (policy table expected)", 3) end
  if type(member) ~= "string" or member == "" then error("bad argument #2 to '" .. fn .. "' (member expected)", 3) end
  if type(role) ~= "string" or role == "" then error("bad argument #3 to '" .. fn .. "' (role expected)", 3) end
  if condition ~= nil and type(condition) ~= "table" and condition ~= "all" then
    error("bad argument #4 to '" .. fn .. "' (condition table expected, got " .. type(condition) .. ")", 3)
  end
end

-- Two conditions are the same when their expression, title and description are
-- (gcloud's rule); nil is the binding without one.
local function same_condition(a, b)
  if a == nil or b == nil then return a == b end
  return a.expression == b.expression and a.title == b.title and a.description == b.description
end

--- Whether any binding of the policy has a condition.
function _M.has_conditions(policy)
  for _, b in ipairs(policy.bindings or {}) do
    if b.condition ~= nil then return true end
  end
  return false
end

--- add_binding(policy, member, role [, condition]) -> true when it changed the
-- policy, false when the member already had that role (under that condition).
-- condition: {expression =, title =, description =} or nil for none. A policy
-- changed becomes version 3, as gcloud sets it.
function _M.add_binding(policy, member, role, condition)
  check("add_binding", policy, member, role, condition)
  if condition == "all" then error("bad argument #4 to 'add_binding' (condition table expected)", 2) end
  local bindings = policy.bindings or {}
  for _, b in ipairs(bindings) do
    if b.role == role and same_condition(b.condition, condition) then
      local members = list(b.members or {})
      for _, m in ipairs(members) do
        if m == member then return false end
      end
      members[#members + 1] = member
      b.members, policy.version = members, 3
      return true
    end
  end
  local b = { role = role, members = list({ member }) }
  if condition then
    b.condition = { expression = condition.expression, title = condition.title, description = condition.description }
  end
  bindings[#bindings + 1] = b
  policy.bindings, policy.version = list(bindings), 3
  return true
end

--- remove_binding(policy, member, role [, condition]) -> true when it changed
-- the policy, false when no such binding was there. condition: as for
-- add_binding, or "all" for every binding of the role whatever its condition.
-- Bindings left without members are dropped.
function _M.remove_binding(policy, member, role, condition)
  check("remove_binding", policy, member, role, condition)
  local bindings = policy.bindings or {}
  local changed = false
  for i = #bindings, 1, -1 do
    local b = bindings[i]
    if b.role == role and (condition == "all" or same_condition(b.condition, condition)) then
      local members = b.members or {}
      for k = #members, 1, -1 do
        if members[k] == member then
          remove(members, k)
          changed = true
        end
      end
      if #members == 0 then remove(bindings, i) end
    end
  end
  if changed then policy.bindings, policy.version = list(bindings), 3 end
  return changed
end

--[[
modify(client, job, change [, opts]) -> the policy set (or, when change
asked for nothing, the policy as it is) | nil, err

Reads the job's policy at version 3 and calls change(policy), which edits it
in place and returns true to set it, false when it needs no change, or nil,
err to stop with that err (returned as is). The policy is set with the etag it
was read with; on ABORTED the whole read-modify-write starts again, after a
pause of `delay` seconds (default 1) that doubles each time, plus up to a tenth
of a second of jitter, at most `attempts` times in all (default 4: gcloud's
three retries). opts.update_mask is passed to set_iam_policy.
]]
function _M.modify(client, job, change, opts)
  if type(change) ~= "function" then error("bad argument #3 to 'modify' (function expected)", 2) end
  opts = opts or {}
  local attempts, delay = opts.attempts or 4, opts.delay or 1
  if type(attempts) ~= "number" or attempts < 1 or attempts % 1 ~= 0 then
    error("modify: option 'attempts' must be a whole number of at least 1 (got " .. tostring(attempts) .. ")", 2)
  end
  if type(delay) ~= "number" or delay < 0 then
    error("modify: option 'delay' must be a number of seconds >= 0 (got " .. tostring(delay) .. ")", 2)
  end
  local sleep = client._driver and ngx.sleep or core.sleep -- inside nginx: never block the worker
  for attempt = 1, attempts do
    local policy, err = client:get_iam_policy(job, { requested_policy_version = 3 })
    if not policy then return nil, err end
    local go, why = change(policy)
    if go == nil then return nil, why end
    if not go then return policy end
    local set
    set, err = client:set_iam_policy(job, policy, opts.update_mask)
    if set then return set end
    if err.code ~= "ABORTED" or attempt == attempts then return nil, err end
    sleep(delay * 2 ^ (attempt - 1) + random() * 0.1)
  end
end

return _M
