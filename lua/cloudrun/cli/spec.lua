--- cloudrun.cli.spec — a Job in its REST form, made or changed by gcloud's
-- flags: the ones `jobs create`, `jobs update` and `jobs deploy` share
-- (image, command, args, env, labels, resources, tasks, retries, timeout).
-- Field names of the v2 REST API live here, for the CLI.
local common = require("cloudrun.cli.common")
local core = require("cloudrun.core")

local pairs, ipairs, setmetatable, sort, format = pairs, ipairs, setmetatable, table.sort, string.format

local _M = {}

--- The flags that describe a job's template, with their help (shared by create, update, deploy).
_M.flags = {
  { "image", "IMAGE",
    "the container image (the emulator runs it under --runtime podman or docker; as a process, it runs --command)" },
  { "command", "COMMAND,...", "the entrypoint, replacing the image's" },
  { "args", "ARG,...", "the arguments to the entrypoint (gcloud's ^DELIM^a;b form when one has a comma)" },
  { "set-env-vars", "KEY=VALUE,...", "the container's environment variables: all of them" },
  { "update-env-vars", "KEY=VALUE,...", "environment variables to add or change" },
  { "remove-env-vars", "KEY,...", "environment variables to remove" },
  { "env-vars-file", "FILE", "all the environment variables, from a YAML file of KEY: VALUE lines" },
  { "clear-env-vars", false, "remove every environment variable" },
  { "labels", "KEY=VALUE,...", "labels: all of them (create), or to add or change (update, as gcloud)" },
  { "update-labels", "KEY=VALUE,...", "labels to add or change" },
  { "remove-labels", "KEY,...", "labels to remove" },
  { "clear-labels", false, "remove every label" },
  { "cpu", "CPU", "the CPU limit of the container (1, 2, 4, 8 or 1000m ...)" },
  { "memory", "MEMORY", "the memory limit of the container (512Mi, 2Gi ...)" },
  { "tasks", "N", "the number of tasks each execution runs" },
  { "parallelism", "N", "how many tasks may run at once (0: as many as possible)" },
  { "max-retries", "N", "how many times a failed task is retried" },
  { "task-timeout", "DURATION", "each task's timeout (600, 10m, 1h30m)" },
  { "service-account", "EMAIL", "the service account the tasks run as" },
}

-- KEY=VALUE,... -> { KEY = VALUE } | nil, message
local function pairs_map(flag, s)
  local list, err = common.env_pairs(flag, s)
  if not list then return nil, err end
  local map = {}
  for _, kv in ipairs(list) do map[kv.name] = kv.value end
  return map
end

local function keys(flag, s)
  local out = {}
  for _, k in ipairs(common.split_list(s)) do
    if k == "" then return nil, flag .. " expects KEY,KEY2,..." end
    out[k] = true
  end
  return out
end

-- Env as the API holds it: a list of {name=, value=} (or valueSource): to a map of the plain ones,
-- keeping the others as they are.
local function env_to_map(env)
  local map, kept = {}, {}
  for _, e in ipairs(env or {}) do
    if e.value ~= nil or e.valueSource == nil then map[e.name] = e.value or "" else kept[#kept + 1] = e end
  end
  return map, kept
end

local function map_to_env(map, kept)
  local names = {}
  for k in pairs(map) do names[#names + 1] = k end
  sort(names)
  local env = {}
  for _, k in ipairs(kept or {}) do env[#env + 1] = k end
  for _, k in ipairs(names) do env[#env + 1] = { name = k, value = map[k] } end
  return setmetatable(env, core.array_mt)
end

-- Flags that cannot go together, as gcloud groups them.
local exclusive = {
  { "set-env-vars", "env-vars-file", "clear-env-vars", "update-env-vars" },
  { "set-env-vars", "env-vars-file", "clear-env-vars", "remove-env-vars" },
  { "clear-labels", "labels" }, { "clear-labels", "update-labels" }, { "clear-labels", "remove-labels" },
}

--- Applies gcloud's flags to job (a Job in its REST form, changed in place;
-- a new one when creating). Returns job, or nil, message for bad usage.
function _M.apply(job, flags, creating)
  for _, group in ipairs(exclusive) do
    local given = {}
    for _, f in ipairs(group) do if flags[f] then given[#given + 1] = "--" .. f end end
    if #given > 1 then return nil, table.concat(given, " and ") .. " cannot be used together" end
  end
  job.template = job.template or {}
  local template = job.template
  template.template = template.template or {}
  local task = template.template
  task.containers = task.containers or setmetatable({}, core.array_mt)
  local container = task.containers[1]
  if not container then
    container = {}
    task.containers[1] = container
  end
  local err
  if flags.image then container.image = flags.image end
  if flags.command then container.command = setmetatable(common.split_list(flags.command), core.array_mt) end
  if flags.args then container.args = setmetatable(common.split_list(flags.args), core.array_mt) end

  -- environment
  local env, kept = env_to_map(container.env)
  local touched = false
  if flags["clear-env-vars"] then env, kept, touched = {}, {}, true end
  if flags["set-env-vars"] then
    env, err = pairs_map("--set-env-vars", flags["set-env-vars"])
    if not env then return nil, err end
    kept, touched = {}, true
  end
  if flags["env-vars-file"] then
    -- the core reads it: a regular file of at most 1 MiB (never a FIFO, a device or a directory)
    env, err = core.yaml_file_string_map(flags["env-vars-file"], "--env-vars-file")
    if not env then return nil, err.message end
    kept, touched = {}, true
  end
  if flags["update-env-vars"] then
    local add
    add, err = pairs_map("--update-env-vars", flags["update-env-vars"])
    if not add then return nil, err end
    for k, v in pairs(add) do env[k] = v end
    touched = true
  end
  if flags["remove-env-vars"] then
    local gone
    gone, err = keys("--remove-env-vars", flags["remove-env-vars"])
    if not gone then return nil, err end
    for k in pairs(gone) do env[k] = nil end
    touched = true
  end
  if touched then container.env = map_to_env(env, kept) end

  -- labels (on the job, as gcloud sets them)
  local labels = {}
  for k, v in pairs(job.labels or {}) do labels[k] = v end
  local labels_touched = false
  if flags["clear-labels"] then labels, labels_touched = {}, true end
  if flags.labels then
    local given
    given, err = pairs_map("--labels", flags.labels)
    if not given then return nil, err end
    if creating then labels = {} end
    for k, v in pairs(given) do labels[k] = v end
    labels_touched = true
  end
  if flags["update-labels"] then
    local given
    given, err = pairs_map("--update-labels", flags["update-labels"])
    if not given then return nil, err end
    for k, v in pairs(given) do labels[k] = v end
    labels_touched = true
  end
  if flags["remove-labels"] then
    local gone
    gone, err = keys("--remove-labels", flags["remove-labels"])
    if not gone then return nil, err end
    for k in pairs(gone) do labels[k] = nil end
    labels_touched = true
  end
  if labels_touched then job.labels = labels end

  -- resources
  if flags.cpu or flags.memory then
    container.resources = container.resources or {}
    container.resources.limits = container.resources.limits or {}
    if flags.cpu then
      if not flags.cpu:match("^%d+m?$") and not flags.cpu:match("^%d+%.%d+$") then
        return nil, "--cpu: '" .. flags.cpu .. "' is not a CPU amount (1, 2, 4, 8, 1000m ...)"
      end
      container.resources.limits.cpu = flags.cpu
    end
    if flags.memory then
      if not flags.memory:match("^%d+[KMGT]?i?$") then
        return nil, "--memory: '" .. flags.memory .. "' is not an amount of memory (512Mi, 2Gi ...)"
      end
      container.resources.limits.memory = flags.memory
    end
  end

  -- execution shape
  if flags.tasks then
    template.taskCount, err = common.count("--tasks", flags.tasks)
    if not template.taskCount then return nil, err end
  end
  if flags.parallelism then
    template.parallelism, err = common.count("--parallelism", flags.parallelism, 0)
    if not template.parallelism then return nil, err end
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
  if flags["service-account"] then task.serviceAccount = flags["service-account"] end
  if creating and not container.image then return nil, "a new job needs --image" end
  return job
end

--- What the server keeps to itself in a Job (output-only fields), dropped before an update.
_M.output_only = {
  "uid", "generation", "createTime", "updateTime", "deleteTime", "expireTime", "creator", "lastModifier",
  "observedGeneration", "terminalCondition", "conditions", "executionCount", "latestCreatedExecution",
  "reconciling", "satisfiesPzs", "etag",
}

function _M.for_update(job)
  for _, k in ipairs(_M.output_only) do job[k] = nil end
  return job
end

return _M
