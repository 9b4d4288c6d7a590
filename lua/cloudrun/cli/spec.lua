--- cloudrun.cli.spec — a Job in its REST form, made or changed by gcloud's
-- template flags: the ones `jobs create`, `jobs update` and `jobs deploy` share
-- (image, command, args, env, secrets, volumes, resources and GPUs, tasks,
-- retries, timeout, service account, Cloud SQL, networking, CMEK, Binary
-- Authorization, several containers), in the order gcloud applies them. Field
-- names of the v2 REST API live here and in spec_volumes.lua, for the CLI.
local common = require("cloudrun.cli.common")
local core = require("cloudrun.core")
local flag_groups = require("cloudrun.cli.flag_groups")
local job_settings = require("cloudrun.cli.spec_job")
local volumes = require("cloudrun.cli.spec_volumes")

local pairs, ipairs, next, setmetatable, sort, concat = pairs, ipairs, next, setmetatable, table.sort, table.concat

local _M = {}

-- Which commands have a flag (all of them when a flag says nothing), as gcloud's.
local NOT_CREATE = { update = true, deploy = true }
local UPDATE = { update = true }

--[[
The flags that describe a job's template, with their help: { name, VALUE or
false, help, c = true for a per-container flag (after --container NAME it
changes that container, else the first), on = the commands that have it,
many = true for one that may be repeated }.
]]
_M.flags = {
  { "container", "CONTAINER", "the flags after it, up to the next --container, are container CONTAINER's (one the job "
    .. "lacks is added); flags that are not per-container go before the first --container" },
  { "image", "IMAGE",
    "the container image (the emulator runs it under --runtime podman or docker; as a process, it runs --command)",
    c = true },
  { "command", "COMMAND,...", "the entrypoint, replacing the image's", c = true },
  { "args", "ARG,...", "the arguments to the entrypoint (gcloud's ^DELIM^a;b form when one has a comma)", c = true },
  { "workdir", "WORKDIR", "working directory of the container process; if not specified, the image's default working "
    .. "directory is used (an empty value resets it)", c = true },
  { "set-env-vars", "KEY=VALUE,...", "the container's environment variables: all of them", c = true },
  { "update-env-vars", "KEY=VALUE,...", "environment variables to add or change", c = true },
  { "remove-env-vars", "KEY,...", "environment variables to remove", c = true },
  { "env-vars-file", "FILE", "all the environment variables, from a YAML file of KEY: VALUE lines", c = true },
  { "clear-env-vars", false, "remove every environment variable", c = true },
  { "set-secrets", "KEY=SECRET:VERSION,...", "secrets to mount or provide as environment variables, all of them: a "
    .. "KEY starting with / is a mount path, any other an environment variable; /secrets/api/key=mysecret:latest "
    .. "mounts a volume at /secrets/api holding the file key, ENV=othersecret:1 sets ENV to version 1 of othersecret; "
    .. "a secret of another project is projects/PROJECT_NUMBER/secrets/NAME", c = true, many = true },
  { "update-secrets", "KEY=SECRET:VERSION,...", "secrets to mount or provide as environment variables, to add or "
    .. "change (as --set-secrets)", c = true, many = true },
  { "remove-secrets", "KEY,...", "secrets to remove: environment variables, or mount paths (/secrets/api/key)",
    c = true, many = true },
  { "clear-secrets", false, "remove all secrets, environment variables and mounted", c = true },
  { "add-volume-mount", "volume=NAME,mount-path=MOUNT_PATH", "adds a mount to the current container: NAME is a volume "
    .. "of the job, PATH where the container's filesystem has it (repeat the flag for more)", c = true, many = true },
  { "remove-volume-mount", "MOUNT_PATH,...", "removes the volume mounted at the specified path from the current "
    .. "container", c = true, many = true },
  { "clear-volume-mounts", false, "remove all existing mounts from the current container", c = true },
  { "cpu", "CPU", "the CPU limit of the container (1, 2, 4, 8 or 1000m ...)", c = true },
  { "memory", "MEMORY", "the memory limit of the container (512Mi, 2Gi ...)", c = true },
  { "gpu", "GPU", "the GPUs of the container: Cloud Run supports 0 or 1; 1 GPU also needs --cpu of at least 4 and "
    .. "--memory of at least 16Gi (0 also clears the GPU type and zonal redundancy)", c = true },
  { "depends-on", "CONTAINER,...", "containers this container depends on: they start first (an empty value "
    .. "removes its dependencies)", c = true, many = true },
  { "remove-containers", "CONTAINER,...", "containers to remove", on = NOT_CREATE, many = true },
  { "add-volume", "KEY=VALUE,...", "adds a volume to the job (repeat the flag for more): name=NAME,type=TYPE and the "
    .. "type's keys: in-memory [size-limit=512Mi]; cloud-storage bucket=BUCKET [readonly=true] "
    .. "[mount-options=FLAG;FLAG] (Cloud Storage FUSE's, without dashes); nfs location=SERVER:/PATH "
    .. "[readonly=true]. Without --container, mount-path=/PATH also mounts it in the container (a name is then made "
    .. "when none is given)", many = true },
  { "remove-volume", "VOLUME,...", "removes volumes from the job", many = true },
  { "clear-volumes", false, "remove all existing volumes from the job, including volumes mounted as secrets" },
  { "labels", "KEY=VALUE,...", "labels: all of them (create), or to add or change (update, as gcloud)" },
  { "update-labels", "KEY=VALUE,...", "labels to add or change" },
  { "remove-labels", "KEY,...", "labels to remove" },
  { "clear-labels", false, "remove every label" },
  { "tasks", "N", "the number of tasks each execution runs" },
  { "parallelism", "N", "how many tasks may run at once (0: as many as possible)" },
  { "max-retries", "N", "how many times a failed task is retried" },
  { "task-timeout", "DURATION", "each task's timeout (600, 10m, 1h30m)" },
  { "service-account", "EMAIL", "the service account the tasks run as" },
  { "set-cloudsql-instances", "CLOUDSQL-INSTANCES,...", "the Cloud SQL instances the job connects to, all of them: "
    .. "INSTANCE in the job's project and region, else PROJECT:REGION:INSTANCE (mounted at /cloudsql)", many = true },
  { "add-cloudsql-instances", "CLOUDSQL-INSTANCES,...", "append the given values to the current Cloud SQL instances",
    on = UPDATE, many = true },
  { "remove-cloudsql-instances", "CLOUDSQL-INSTANCES,...", "remove the given values from the current Cloud SQL "
    .. "instances", on = UPDATE, many = true },
  { "clear-cloudsql-instances", false, "empty the current Cloud SQL instances", on = UPDATE },
  { "vpc-connector", "CONNECTOR", "set a VPC connector for this job (NAME in the job's project and region, or "
    .. "projects/PROJECT/locations/REGION/connectors/NAME)" },
  { "clear-vpc-connector", false, "remove the VPC connector for this job", on = UPDATE },
  { "network", "NETWORK", "the VPC network that the Cloud Run job will be able to send traffic to (Direct VPC "
    .. "egress); with --subnet, the subnet must be a subnetwork of this network" },
  { "subnet", "SUBNET", "the VPC subnetwork that the Cloud Run job will get IPs from (/26 or larger); without "
    .. "--network, the network is looked up from this subnetwork" },
  { "network-tags", "TAG,...", "applies the given network tags (comma separated) to the Cloud Run job", many = true },
  { "clear-network-tags", false, "clears all existing network tags from the Cloud Run job", on = NOT_CREATE },
  { "clear-network", false, "disconnect this Cloud Run job from the VPC network it is connected to",
    on = NOT_CREATE },
  { "vpc-egress", "VPC_EGRESS", "which outbound traffic to send through Direct VPC egress or the VPC connector: "
    .. "private-ranges-only (the default: private IP addresses), all-traffic (all of it; all, deprecated, is the "
    .. "same); the job must have Direct VPC egress or a VPC connector" },
  { "gpu-type", "GPU_TYPE", "the GPU type to use (nvidia-l4 ...)" },
  { "gpu-zonal-redundancy", false, "set GPU zonal redundancy" },
  { "no-gpu-zonal-redundancy", false, "turn GPU zonal redundancy off" },
  { "key", "KEY", "CMEK key reference to encrypt the container with "
    .. "(projects/PROJECT/locations/LOCATION/keyRings/RING/cryptoKeys/KEY)" },
  { "binary-authorization", "POLICY", "Binary Authorization policy to check against: default, or a policy's name" },
  { "clear-binary-authorization", false, "remove any previously set Binary Authorization policy", on = UPDATE },
  { "breakglass", "JUSTIFICATION", "justification to bypass Binary Authorization policy constraints and allow the "
    .. "operation; the next update or deploy clears it" },
}

--- The template flags of one command ("create", "update" or "deploy"), as gcloud's.
function _M.flags_for(command)
  local out = {}
  for _, f in ipairs(_M.flags) do
    if not f.on or f.on[command] then out[#out + 1] = f end
  end
  return out
end

--- The names of the per-container flags (a set).
_M.per_container = {}
for _, f in ipairs(_M.flags) do
  if f.c then _M.per_container[f[1]] = true end
end

--- A line for the commands' help: which flags --container applies to.
function _M.per_container_help()
  local names = {}
  for _, f in ipairs(_M.flags) do
    if f.c then names[#names + 1] = "--" .. f[1] end
  end
  local lines, line = {}, "Per container (after --container NAME, else the first container):"
  for i, n in ipairs(names) do
    local word = n .. (i < #names and "," or ".")
    if #line + 1 + #word > 100 then
      lines[#lines + 1] = line
      line = " "
    end
    line = line .. " " .. word
  end
  lines[#lines + 1] = line
  return concat(lines, "\n")
end

-- ---- the containers' own flags ----------------------------------------------------

local pairs_map, keys = job_settings.pairs_map, job_settings.keys

-- Env as the API holds it: a list of {name=, value=} (or valueSource): to a map of the plain ones,
-- keeping the others (secrets) as they are.
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
  return #env > 0 and setmetatable(env, core.array_mt) or nil
end

-- The plain environment variables (as gcloud's env flags, which leave secrets alone).
local function change_env(c, flags)
  local env, kept = env_to_map(c.env)
  local touched, err = false
  if flags["clear-env-vars"] then env, touched = {}, true end
  if flags["set-env-vars"] then
    env, err = pairs_map("--set-env-vars", flags["set-env-vars"])
    if not env then return nil, err end
    touched = true
  end
  if flags["env-vars-file"] then
    -- the core reads it: a regular file of at most 1 MiB (never a FIFO, a device or a directory)
    env, err = core.yaml_file_string_map(flags["env-vars-file"], "--env-vars-file")
    if not env then return nil, err.message end
    touched = true
  end
  if flags["remove-env-vars"] then
    local gone
    gone, err = keys("--remove-env-vars", flags["remove-env-vars"])
    if not gone then return nil, err end
    for k in pairs(gone) do env[k] = nil end
    touched = true
  end
  if flags["update-env-vars"] then
    local add
    add, err = pairs_map("--update-env-vars", flags["update-env-vars"])
    if not add then return nil, err end
    for k, v in pairs(add) do env[k] = v end
    touched = true
  end
  if not touched then return true end
  for _, e in ipairs(kept) do
    if env[e.name] then
      return nil, "cannot update environment variable [" .. e.name .. "] to a value: it has already been set with a "
        .. "different type (a secret)"
    end
  end
  c.env = map_to_env(env, kept)
  return true
end

local function limits_of(c)
  c.resources = c.resources or {}
  c.resources.limits = c.resources.limits or {}
  return c.resources.limits
end

-- --cpu, --memory, --gpu.
local function change_resources(c, flags)
  if flags.cpu then
    if not flags.cpu:match("^%d+m?$") and not flags.cpu:match("^%d+%.%d+$") then
      return nil, "--cpu: '" .. flags.cpu .. "' is not a CPU amount (1, 2, 4, 8, 1000m ...)"
    end
    limits_of(c).cpu = flags.cpu
  end
  if flags.memory then
    if not flags.memory:match("^%d+[KMGT]?i?$") then
      return nil, "--memory: '" .. flags.memory .. "' is not an amount of memory (512Mi, 2Gi ...)"
    end
    limits_of(c).memory = flags.memory
  end
  if flags.gpu then
    -- the number is the server's to check (gcloud sends it as given); 0 takes the GPU away
    limits_of(c)["nvidia.com/gpu"] = flags.gpu ~= "0" and flags.gpu or nil
    if next(c.resources.limits) == nil then c.resources.limits = nil end
    if next(c.resources) == nil then c.resources = nil end
  end
  return true
end

-- --command, --args, --workdir (an empty value resets each).
local function change_process(c, flags)
  for _, f in ipairs({ "command", "args" }) do
    if flags[f] then
      local list = common.split_list(flags[f])
      c[f] = #list > 0 and setmetatable(list, core.array_mt) or nil
    end
  end
  if flags.workdir then c.workingDir = flags.workdir ~= "" and flags.workdir or nil end
  return true
end

--- The container named `name` (nil: the first one), added when the template lacks it.
local function container(task, name)
  task.containers = task.containers or setmetatable({}, core.array_mt)
  for _, c in ipairs(task.containers) do
    if name == nil or c.name == name then return c end
  end
  local c = { name = name }
  task.containers[#task.containers + 1] = c
  return c
end

-- Flags that cannot go together, as gcloud groups them.
local exclusive = {
  { "set-env-vars", "env-vars-file", "clear-env-vars", "update-env-vars" },
  { "set-env-vars", "env-vars-file", "clear-env-vars", "remove-env-vars" },
  { "clear-labels", "labels" }, { "clear-labels", "update-labels" }, { "clear-labels", "remove-labels" },
  { "set-secrets", "clear-secrets", "update-secrets" }, { "set-secrets", "clear-secrets", "remove-secrets" },
  { "set-cloudsql-instances", "add-cloudsql-instances", "remove-cloudsql-instances", "clear-cloudsql-instances" },
  { "clear-network", "network" }, { "clear-network", "subnet" }, { "clear-network", "network-tags" },
  { "clear-network", "clear-network-tags" }, { "network-tags", "clear-network-tags" },
  { "binary-authorization", "clear-binary-authorization" },
  { "gpu-zonal-redundancy", "no-gpu-zonal-redundancy" },
}

local function check_exclusive(flags)
  for _, group in ipairs(exclusive) do
    local given = {}
    for _, f in ipairs(group) do if flags[f] then given[#given + 1] = "--" .. f end end
    if #given > 1 then return concat(given, " and ") .. " cannot be used together" end
  end
end

-- The project and region of a job's full name.
local function place_of(job)
  return (job.name or ""):match("^projects/([^/]+)/locations/([^/]+)/")
end

--[[
apply(job, flags, opts) -> job | nil, message | nil, err
Applies gcloud's flags to job (a Job in its REST form, changed in place; {}
when creating), in the order gcloud applies them. flags: the command's values;
opts.creating; opts.containers: parse_containers' list, when the line has
--container; opts.where() -> project, region | nil, err: where the job is, when
its name does not say (a plain Cloud SQL instance or VPC connector needs it).
A message is bad usage; an err table, a failure to find where the job is.
]]
function _M.apply(job, flags, opts)
  opts = opts or {}
  local creating, groups = opts.creating, opts.containers
  local problem = check_exclusive(flags)
  for _, g in ipairs(groups or {}) do problem = problem or check_exclusive(g.flags) end
  if problem then return nil, problem end
  if groups and #groups > 10 and creating then return nil, "--container: jobs may include at most 10 containers" end

  local function where()
    local project, region = place_of(job)
    if project then return project, region end
    if not opts.where then return nil, "the job's project and region are not known" end
    return opts.where()
  end

  job.template = job.template or {}
  local template = job.template
  template.template = template.template or {}
  local task = template.template
  task.containers = task.containers or setmetatable({}, core.array_mt)

  -- gcloud clears a breakglass justification on every change: one is for one deployment
  if job.binaryAuthorization then
    job.binaryAuthorization.breakglassJustification = nil
    job.binaryAuthorization = job_settings.unless_empty(job.binaryAuthorization)
  end

  -- the container the flags before any --container change: the first (made when needed)
  local top_changes = not groups
  for name in pairs(_M.per_container) do top_changes = top_changes or flags[name] ~= nil end
  local first
  local function default()
    first = first or container(task, nil)
    return first
  end
  local function on_first(change)
    return function()
      if not top_changes then return true end
      return change(default(), flags)
    end
  end
  local cloudsql_changed = false
  local dependencies = {}
  local function each_container()
    for _, g in ipairs(groups or {}) do
      local c = container(task, g.name)
      for _, change in ipairs({ change_env, change_resources, change_process, volumes.unmount }) do
        local ok, err = change(c, g.flags)
        if not ok then return nil, err end
      end
      local ok, err = volumes.secrets(task, c, task.containers, g.flags)
      if not ok then return nil, err end
      ok, err = volumes.mount(c, g.flags)
      if not ok then return nil, err end
      if g.flags.image then c.image = g.flags.image end
      if g.flags["depends-on"] then
        dependencies[#dependencies + 1] = { c = c, names = flag_groups.list_values(g.flags["depends-on"]) }
      end
    end
    return true
  end

  local steps = {
    on_first(function(c) if flags.image then c.image = flags.image end return true end),
    on_first(change_env),
    function()
      local changed, err = volumes.cloudsql(task, flags, where)
      cloudsql_changed = changed
      return changed ~= nil, err
    end,
    on_first(volumes.unmount),
    function() return volumes.drop(task, flags) end,
    on_first(function(c) return volumes.secrets(task, c, task.containers, flags) end),
    function() return volumes.add(task, flags, default, groups ~= nil) end,
    on_first(volumes.mount),
    on_first(change_resources),
    function()
      if flags.gpu == "0" then task.nodeSelector, task.gpuZonalRedundancyDisabled = nil, nil end
      if flags["gpu-zonal-redundancy"] then task.gpuZonalRedundancyDisabled = false end
      if flags["no-gpu-zonal-redundancy"] then task.gpuZonalRedundancyDisabled = true end
      if flags["service-account"] then task.serviceAccount = flags["service-account"] end
      return job_settings.labels(job, flags, creating)
    end,
    function() return job_settings.connector(task, flags, where) end,
    on_first(change_process),
    function() return job_settings.security(job, task, flags) end,
    function() return job_settings.network(task, flags) end,
    function() return job_settings.remove_containers(task, flags) end,
    each_container,
    function() return job_settings.shape(template, task, flags) end,
    function()
      if top_changes and flags["depends-on"] then
        dependencies[#dependencies + 1] = { c = default(), names = flag_groups.list_values(flags["depends-on"]) }
      end
      if #dependencies == 0 and not flags["remove-containers"] then return true end
      for _, d in ipairs(dependencies) do
        local names, err = job_settings.container_names("--depends-on", d.names)
        if not names then return nil, err end
      end
      return job_settings.depends_on(task, dependencies)
    end,
  }
  for _, step in ipairs(steps) do
    local ok, err = step()
    if not ok then return nil, err end
  end
  if cloudsql_changed then volumes.cloudsql_mounts(task) end

  if creating then
    if groups then
      local lacking = {}
      for _, g in ipairs(groups) do
        if not g.flags.image then lacking[#lacking + 1] = g.name end
      end
      if #lacking > 0 then
        return nil, "--image: containers " .. concat(lacking, ", ") .. " require a container image to deploy"
      end
    end
    if first and not first.image then return nil, "a new job needs --image" end
  end
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
