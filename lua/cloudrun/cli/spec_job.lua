--- cloudrun.cli.spec_job — what gcloud's job-wide template flags change in a Job:
-- labels, VPC access (a connector, Direct VPC egress's network interface, the
-- egress), Binary Authorization and the CMEK key, the execution's shape (tasks,
-- parallelism, retries, timeout, GPU type), the containers removed and every
-- container's dependencies. Used by cli/spec.lua, which applies them in gcloud's order.
local common = require("cloudrun.cli.common")
local core = require("cloudrun.core")
local flag_groups = require("cloudrun.cli.flag_groups")

local pairs, ipairs, next, type, setmetatable, sort, format, concat =
  pairs, ipairs, next, type, setmetatable, table.sort, string.format, table.concat

local _M = {}

-- KEY=VALUE,... -> { KEY = VALUE } | nil, message
local function pairs_map(flag, s)
  local list, err = common.env_pairs(flag, s)
  if not list then return nil, err end
  local map = {}
  for _, kv in ipairs(list) do map[kv.name] = kv.value end
  return map
end
_M.pairs_map = pairs_map

local function keys(flag, s)
  local out = {}
  for _, k in ipairs(common.split_list(s)) do
    if k == "" then return nil, flag .. " expects KEY,KEY2,..." end
    out[k] = true
  end
  return out
end
_M.keys = keys

-- RFC 1123 names, as gcloud checks container names in lists (at most 9 of them).
function _M.container_names(flag, v)
  local names = flag_groups.list_values(v)
  if #names > 9 then return nil, flag .. ": at most 9 containers" end
  for _, n in ipairs(names) do
    if #n > 63 or not (n:match("^[a-z0-9]$") or n:match("^[a-z0-9][a-z0-9.%-]*[a-z0-9]$")) then
      return nil, flag .. ": '" .. n .. "' must conform to RFC 1123: only lowercase, digits, hyphens, and periods are "
        .. "allowed, must begin and end with letter or digit, and less than 64 characters"
    end
  end
  return names
end

function _M.labels(job, flags, creating)
  local labels, err = {}
  for k, v in pairs(job.labels or {}) do labels[k] = v end
  local touched = false
  if flags["clear-labels"] then labels, touched = {}, true end
  for _, flag in ipairs({ "labels", "update-labels" }) do
    if flags[flag] then
      local given
      given, err = pairs_map("--" .. flag, flags[flag])
      if not given then return nil, err end
      if flag == "labels" and creating then labels = {} end
      for k, v in pairs(given) do labels[k] = v end
      touched = true
    end
  end
  if flags["remove-labels"] then
    local gone
    gone, err = keys("--remove-labels", flags["remove-labels"])
    if not gone then return nil, err end
    for k in pairs(gone) do labels[k] = nil end
    touched = true
  end
  if touched then job.labels = labels end
  return true
end

local EGRESS = { all = "ALL_TRAFFIC", ["all-traffic"] = "ALL_TRAFFIC", ["private-ranges-only"] = "PRIVATE_RANGES_ONLY" }

-- An empty table (or nil) as nil: a message the change emptied is left out.
function _M.unless_empty(t)
  if type(t) == "table" and next(t) == nil then return nil end
  return t
end

-- --vpc-connector, --vpc-egress, --clear-vpc-connector: the VPC access of the task template.
function _M.connector(task, flags, where)
  local vpc = task.vpcAccess or {}
  local connector = flags["vpc-connector"]
  if connector and connector ~= "" then
    if not connector:find("^projects/") then
      -- v2 names the connector in full; gcloud's short NAME is one of the job's region
      local project, region = where()
      if not project then return nil, region end
      connector = "projects/" .. project .. "/locations/" .. region .. "/connectors/" .. connector
    end
    vpc.connector = connector
  end
  if flags["vpc-egress"] then
    local egress = EGRESS[flags["vpc-egress"]]
    if not egress then
      return nil, "--vpc-egress: '" .. flags["vpc-egress"] .. "' is not one of all, all-traffic, private-ranges-only"
    end
    vpc.egress = egress
  end
  if flags["clear-vpc-connector"] then vpc.connector, vpc.egress = nil, nil end
  task.vpcAccess = _M.unless_empty(vpc)
  return true
end

-- --network, --subnet, --network-tags, --clear-network-tags, --clear-network: Direct VPC egress
-- (one network interface, as Cloud Run has; an empty value removes that setting).
function _M.network(task, flags)
  local given = flags.network or flags.subnet or flags["network-tags"] or flags["clear-network-tags"]
  if not (given or flags["clear-network"]) then return true end
  local vpc = task.vpcAccess or {}
  if given then
    local interfaces = vpc.networkInterfaces or {}
    local ni = interfaces[1] or {}
    if flags.network then ni.network = flags.network ~= "" and flags.network or nil end
    if flags.subnet then ni.subnetwork = flags.subnet ~= "" and flags.subnet or nil end
    if flags["network-tags"] then
      local tags = flag_groups.list_values(flags["network-tags"])
      ni.tags = #tags > 0 and setmetatable(tags, core.array_mt) or nil
    end
    if flags["clear-network-tags"] then ni.tags = nil end
    interfaces[1] = _M.unless_empty(ni)
    vpc.networkInterfaces = interfaces[1] and setmetatable(interfaces, core.array_mt) or nil
  end
  if flags["clear-network"] then vpc.networkInterfaces, vpc.egress = nil, nil end
  task.vpcAccess = _M.unless_empty(vpc)
  return true
end

-- --binary-authorization, --clear-binary-authorization, --breakglass, --key.
function _M.security(job, task, flags)
  local policy = flags["binary-authorization"]
  if policy == "default" then
    job.binaryAuthorization = job.binaryAuthorization or {}
    job.binaryAuthorization.useDefault, job.binaryAuthorization.policy = true, nil
  elseif policy and policy ~= "" then
    job.binaryAuthorization = job.binaryAuthorization or {}
    job.binaryAuthorization.useDefault, job.binaryAuthorization.policy = nil, policy
  end
  if flags["clear-binary-authorization"] then job.binaryAuthorization = nil end
  if flags.breakglass then
    job.binaryAuthorization = job.binaryAuthorization or {}
    job.binaryAuthorization.breakglassJustification = flags.breakglass
  end
  if flags.key then task.encryptionKey = flags.key ~= "" and flags.key or nil end
  return true
end

-- --remove-containers, then every container's dependencies on containers that are gone.
function _M.remove_containers(task, flags)
  if not flags["remove-containers"] then return true end
  local names, err = _M.container_names("--remove-containers", flags["remove-containers"])
  if not names then return nil, err end
  local gone = {}
  for _, n in ipairs(names) do gone[n] = true end
  local kept = setmetatable({}, core.array_mt)
  for _, c in ipairs(task.containers or {}) do
    if not gone[c.name] then kept[#kept + 1] = c end
  end
  task.containers = kept
  return true
end

-- Every container's dependsOn: the new ones given (sorted, each container there), the
-- others without the containers that are gone.
function _M.depends_on(task, given)
  local there = {}
  for _, c in ipairs(task.containers or {}) do there[c.name or ""] = true end
  for _, g in ipairs(given) do
    local missing = {}
    for _, n in ipairs(g.names) do
      if not there[n] then missing[#missing + 1] = n end
    end
    if #missing > 0 then
      return nil, "--depends-on for container " .. (g.c.name or "") .. " references nonexistent containers: "
        .. concat(missing, ",")
    end
    local set, list = {}, {}
    for _, n in ipairs(g.names) do
      if not set[n] then list[#list + 1] = n end
      set[n] = true
    end
    sort(list)
    g.c.dependsOn = #list > 0 and setmetatable(list, core.array_mt) or nil
  end
  for _, c in ipairs(task.containers or {}) do
    if c.dependsOn then
      local kept = setmetatable({}, core.array_mt)
      for _, n in ipairs(c.dependsOn) do
        if there[n] then kept[#kept + 1] = n end
      end
      c.dependsOn = #kept > 0 and kept or nil
    end
  end
  return true
end

-- --parallelism, --tasks, --max-retries, --task-timeout, --service-account, --gpu-type.
function _M.shape(template, task, flags)
  local err
  if flags.parallelism then
    template.parallelism, err = common.count("--parallelism", flags.parallelism, 0)
    if not template.parallelism then return nil, err end
  end
  if flags.tasks then
    template.taskCount, err = common.count("--tasks", flags.tasks)
    if not template.taskCount then return nil, err end
  end
  if flags["max-retries"] then
    task.maxRetries, err = common.count("--max-retries", flags["max-retries"], 0)
    if not task.maxRetries then return nil, err end
  end
  if flags["task-timeout"] then
    local secs
    secs, err = common.duration("--task-timeout", flags["task-timeout"])
    if not secs then return nil, err end
    task.timeout = format("%ds", math.floor(secs))
  end
  if flags["gpu-type"] and flags["gpu-type"] ~= "" then task.nodeSelector = { accelerator = flags["gpu-type"] } end
  return true
end

return _M
