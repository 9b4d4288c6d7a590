--- cloudrun jobs get-iam-policy|set-iam-policy|add-iam-policy-binding|remove-iam-policy-binding
-- — a job's IAM policy, as gcloud run jobs does them: the policy printed as
-- YAML unless --format says otherwise, "Updated IAM policy for job [JOB]." on
-- stderr after a change, a binding changed by read-modify-write with the etag
-- (cloudrun.iam.modify: ABORTED starts it again, three times at most).
local common = require("cloudrun.cli.common")
local core = require("cloudrun.core")
local format = require("cloudrun.cli.format")
local iam = require("cloudrun.iam")

local pairs, ipairs, type, sort, concat = pairs, ipairs, type, table.sort, table.concat
local say, api_failure = common.say, common.api_failure

local _M = {}

-- The policy on stdout: as --format says, else YAML (gcloud's default for policies).
local function print_policy(ctx, policy)
  local flags = ctx.flags
  if not flags.format_spec then flags = { format_spec = assert(format.parse("yaml")) } end
  common.print(flags, policy)
end

local function get(ctx)
  local client, err = ctx:client()
  if not client then return api_failure(err) end
  local policy
  policy, err = client:get_iam_policy(ctx.pos[1])
  if not policy then return api_failure(err) end
  print_policy(ctx, policy)
  return common.OK
end

local function set(ctx)
  local job, path = ctx.pos[1], ctx.pos[2]
  local policy, err = core.yaml_file_json(path, "policy file")
  if not policy then return ctx:usage(err.message) end
  if type(policy) ~= "table" or policy[1] ~= nil then
    return ctx:usage("policy file " .. path .. ": a Policy (a map of bindings, etag and version) is expected")
  end
  if not policy.etag then
    local go, status = common.confirm(ctx, 'The specified policy does not contain an "etag" field identifying a '
      .. "specific version to replace. Changing a policy without an \"etag\" can overwrite concurrent policy changes.")
    if not go then return status end
  end
  -- the fields the file gives are the ones to change (gcloud's update mask), in the API's names
  local fields = {}
  for k in pairs(policy) do fields[#fields + 1] = k end
  sort(fields)
  local client
  client, err = ctx:client()
  if not client then return api_failure(err) end
  local set_policy
  set_policy, err = client:set_iam_policy(job, policy, concat(fields, ","))
  if not set_policy then return api_failure(err) end
  say("Updated IAM policy for job [", job, "].")
  print_policy(ctx, set_policy)
  return common.OK
end

-- --condition=None, --condition=expression=E,title=T[,description=D] (gcloud's ^DELIM^ form for commas in
-- the expression), or --condition-from-file: the condition table, "none", or nil (not given) | nil, message.
local function condition_of(flags)
  local text, file = flags.condition, flags["condition-from-file"]
  if text and file then return nil, "--condition and --condition-from-file cannot be used together" end
  local c
  if file then
    local err
    c, err = core.yaml_file_json(file, "--condition-from-file")
    if not c then return nil, err.message end
    if type(c) ~= "table" or c[1] ~= nil then
      return nil, "--condition-from-file " .. file .. ": a map of expression, title and description is expected"
    end
  elseif text == "None" then
    return "none"
  elseif text then
    c = {}
    for _, kv in ipairs(common.split_list(text)) do
      local k, v = kv:match("^([^=]+)=(.*)$")
      if not (k == "expression" or k == "title" or k == "description") then
        return nil, "--condition takes expression=EXPR,title=TITLE[,description=DESC] or None, not '" .. kv .. "'"
      end
      c[k] = v
    end
  else
    return nil
  end
  for k in pairs(c) do
    if k ~= "expression" and k ~= "title" and k ~= "description" then
      return nil, "a condition has expression, title and description, not " .. k
    end
  end
  if type(c.expression) ~= "string" or c.expression == "" or type(c.title) ~= "string" or c.title == "" then
    return nil, "a condition needs an expression and a title"
  end
  return c
end

-- add/remove: the change made by read-modify-write; gcloud's refusal when the policy has conditions and the
-- command line says nothing about them (it would ask; without a terminal it refuses, as here).
local function change_binding(ctx, verb)
  local flags = ctx.flags
  local condition, err = condition_of(flags)
  if err then return ctx:usage(err) end
  if flags.all and verb == "add" then return ctx:usage("--all goes with remove-iam-policy-binding") end
  if flags.all and condition then return ctx:usage("--all and --condition cannot be used together") end
  if flags.all then condition = "all" end
  local client
  client, err = ctx:client()
  if not client then return api_failure(err) end
  local refusal, absent
  local policy
  policy, err = iam.modify(client, ctx.pos[1], function(p)
    if condition == nil and iam.has_conditions(p) then
      refusal = verb == "add"
        and "the policy has conditional bindings: give --condition=None to add a binding without a condition, "
          .. "or --condition=expression=...,title=... for one with it"
        or "the policy has conditional bindings: give --condition=None to remove the binding without a condition, "
          .. "--condition=... for one with it, or --all for every binding of that member and role"
      return nil
    end
    local c = condition ~= "none" and condition or nil
    if verb == "add" then return iam.add_binding(p, flags.member, flags.role, c) end
    if iam.remove_binding(p, flags.member, flags.role, c) then return true end
    absent = core.error("NOT_FOUND", "Policy binding with the specified principal, role, and condition not found!")
    return nil, absent
  end)
  if refusal then return ctx:usage(refusal) end
  if not policy then return api_failure(err) end
  say("Updated IAM policy for job [", ctx.pos[1], "].")
  print_policy(ctx, policy)
  return common.OK
end

local binding_flags = {
  { "member", "PRINCIPAL", "who: user:EMAIL, serviceAccount:EMAIL, group:EMAIL, domain:DOMAIN, allUsers, "
    .. "allAuthenticatedUsers, principal://..., principalSet://...", required = true },
  { "role", "ROLE", "the role: roles/NAME (e.g. roles/run.invoker, roles/run.jobsExecutorWithOverrides), "
    .. "projects/PROJECT/roles/NAME or organizations/ORG/roles/NAME", required = true },
  { "condition", "KEY=VALUE,...", "the binding's condition: expression=EXPR,title=TITLE[,description=DESC] "
    .. "(^:^expression=...:title=... when the expression has commas), or None for the binding without one; "
    .. "needed when the policy has conditional bindings" },
  { "condition-from-file", "FILE", "the condition from a JSON or YAML file of expression, title and description" },
}

local remove_flags = {}
for i, f in ipairs(binding_flags) do remove_flags[i] = f end
remove_flags[#remove_flags + 1] = { "all", false, "remove the member's role from every binding of it, whatever "
  .. "its condition" }

_M.commands = {
  {
    path = { "jobs", "get-iam-policy" }, args = { "JOB" }, run = get,
    summary = "Print a job's IAM policy (YAML unless --format says otherwise).",
    details = "The policy is read at version 3, so that conditional bindings show their conditions.",
  },
  {
    path = { "jobs", "set-iam-policy" }, args = { "JOB", "POLICY_FILE" }, run = set,
    summary = "Replace a job's IAM policy with the one in a JSON or YAML file.",
    details = "The file is a Policy as get-iam-policy prints it (bindings, etag, version); the fields it has are\n"
      .. "the ones changed. With its etag, a change made meanwhile fails (ABORTED, exit 3); without one it asks\n"
      .. "first, as the change may overwrite another (--quiet does not ask).",
  },
  {
    path = { "jobs", "add-iam-policy-binding" }, args = { "JOB" }, run = function(ctx)
      return change_binding(ctx, "add")
    end,
    summary = "Grant a member a role on a job.",
    details = "The policy is read, changed and set back with its etag; when someone changed it meanwhile\n"
      .. "(ABORTED) that starts again, at most three more times, after 1, 2 and 4 seconds.",
    flags = binding_flags,
  },
  {
    path = { "jobs", "remove-iam-policy-binding" }, args = { "JOB" }, run = function(ctx)
      return change_binding(ctx, "remove")
    end,
    summary = "Take a role on a job away from a member.",
    details = "Read-modify-write with the etag, as add-iam-policy-binding. Exit 3 (NOT_FOUND) when the policy has\n"
      .. "no such binding; bindings left without members are dropped.",
    flags = remove_flags,
  },
}

return _M
