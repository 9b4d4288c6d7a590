--- cloudrun.cli.spec_volumes — what gcloud's secret, volume and Cloud SQL flags
-- change in a Job's task template: secret environment variables, the volumes and
-- each container's volume mounts, laid out as gcloud lays them out. A secret
-- mounted as a file (/dir/file=SECRET:VERSION) is a secret volume mounted at /dir,
-- one per directory, named after the secret with two three-letter sections
-- (mysecret-tap-gem), each file an item (path = the file's name); Cloud SQL
-- instances are the volume "cloudsql", mounted at /cloudsql. Used by cli/spec.lua.
local common = require("cloudrun.cli.common")
local core = require("cloudrun.core")
local flag_groups = require("cloudrun.cli.flag_groups")

local io, os, math, ipairs, pairs, type, setmetatable, getmetatable = io, os, math, ipairs, pairs, type, setmetatable,
  getmetatable
local concat, sort, byte = table.concat, table.sort, string.byte

local _M = {}

local function array(t)
  return setmetatable(t or {}, core.array_mt)
end

local function copy(v)
  if type(v) ~= "table" then return v end
  local out = setmetatable({}, getmetatable(v))
  for k, x in pairs(v) do out[k] = copy(x) end
  return out
end
_M.copy = copy

local function find_volume(task, name)
  for i, v in ipairs(task.volumes or {}) do
    if v.name == name then return v, i end
  end
end

-- Puts a volume in the template: in the place of one of the same name, or last.
local function put_volume(task, volume)
  local _, i = find_volume(task, volume.name)
  task.volumes = task.volumes or array()
  task.volumes[i or #task.volumes + 1] = volume
end

-- Keeps the volumes (or a container's mounts) that keep(v) says to; nil when none is left.
local function filtered(list, keep)
  local out = array()
  for _, v in ipairs(list or {}) do
    if keep(v) then out[#out + 1] = v end
  end
  return #out > 0 and out or nil
end

-- Mounts `name` at `path` in container c: in the place of a mount at that path, or last.
local function set_mount(c, path, name)
  c.volumeMounts = c.volumeMounts or array()
  for i, m in ipairs(c.volumeMounts) do
    if m.mountPath == path then
      c.volumeMounts[i] = { name = name, mountPath = path }
      return
    end
  end
  c.volumeMounts[#c.volumeMounts + 1] = { name = name, mountPath = path }
end

-- ---- generated names -------------------------------------------------------------

-- gcloud names a volume it makes PREFIX-xxx-yyy, two random three-letter words;
-- ours are drawn from a list of plain words (any of them is harmless to read).
local WORDS = {
  "bed", "big", "bog", "cab", "cog", "cup", "dig", "dip", "fig", "fin", "fox", "gem", "gum", "hat", "hop", "hug",
  "jam", "jet", "kit", "lab", "lap", "leg", "log", "map", "mop", "mug", "nap", "net", "nod", "pen", "pod", "pot",
  "rib", "rod", "rug", "sip", "sun", "tab", "tap", "tin", "top", "tub", "van", "vet", "web", "wig", "yak", "zip",
}

-- A random index 1..n: from /dev/urandom, else Lua's generator (seeded once).
local urandom, seeded
local function pick(n)
  if urandom == nil then urandom = io.open("/dev/urandom", "rb") or false end
  local b = urandom and urandom:read(2)
  if b and #b == 2 then return (byte(b, 1) * 256 + byte(b, 2)) % n + 1 end
  if not seeded then
    math.randomseed(os.time() + math.floor(os.clock() * 1e6))
    seeded = true
  end
  return math.random(n)
end

--- A volume name PREFIX-xxx-yyy that no volume of the template has.
function _M.generated_name(task, prefix)
  local name
  repeat
    name = prefix .. "-" .. WORDS[pick(#WORDS)] .. "-" .. WORDS[pick(#WORDS)]
  until not find_volume(task, name)
  return name
end

-- ---- secrets -----------------------------------------------------------------------

--[[
A secret reference as gcloud reads one: SECRET:VERSION, SECRET a secret of the
job's project (letters, digits, - and _, at most 255), or another project's
projects/NUMBER/secrets/NAME[:VERSION | /versions/VERSION] (version latest when
left out). Returns { secret =, version =, short = NAME } or nil, message.
]]
local function reachable(flag, key, value)
  local project, name, rest = value:match("^projects/(%d+)/secrets/([%w_%-]+)(.*)$")
  if project and #project <= 19 and #name <= 255 then
    local version = rest == "" and "latest" or rest:match("^:(.+)$") or rest:match("^/versions/(.+)$")
    if version then
      return { secret = "projects/" .. project .. "/secrets/" .. name, version = version, short = name }
    end
  end
  local parts = common.split_list("^:^" .. value)
  if #parts == 1 or parts[2] == "" then
    return nil, flag .. ": no secret version for " .. key .. ": use " .. parts[1] .. ":latest for the latest version"
  elseif #parts > 2 then
    return nil, flag .. ": invalid secret '" .. value .. "' for " .. key .. " (SECRET:VERSION)"
  end
  name = parts[1]
  if #name > 255 or not name:match("^[%w_%-]+$") then
    return nil, flag .. ": '" .. name .. "' is not a valid secret name (letters, digits, - and _; a secret of "
      .. "another project is projects/PROJECT_NUMBER/secrets/NAME)"
  end
  return { secret = name, version = parts[2], short = name }
end

-- gcloud's mount points: /<mountPath>/<path>, no segment empty, . or ..
local function mount_point_ok(key)
  local segments = common.split_list("^/^" .. key)
  if #segments < 3 then return false end
  for i = 2, #segments do
    local s = segments[i]
    if s == "" or s == "." or s == ".." then return false end
  end
  return true
end

local function trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- Secret environment variables: removed or cleared, then set (a plain variable of the same name is refused).
local function secret_env(c, updates, order, removes, clear_others)
  local out, done = array(), {}
  for _, e in ipairs(c.env or {}) do
    if e.valueSource == nil then
      if updates[e.name] then
        return nil, "cannot update environment variable [" .. e.name .. "] to a secret: it has already been set "
          .. "with a different type (a value)"
      end
      out[#out + 1] = e
    elseif not ((clear_others and not updates[e.name]) or removes[e.name]) then
      if updates[e.name] then
        e.valueSource = { secretKeyRef = { secret = updates[e.name].secret, version = updates[e.name].version } }
        done[e.name] = true
      end
      out[#out + 1] = e
    end
  end
  for _, name in ipairs(order) do
    if not done[name] then
      local ref = updates[name]
      out[#out + 1] = { name = name, valueSource = { secretKeyRef = { secret = ref.secret, version = ref.version } } }
    end
  end
  c.env = #out > 0 and out or nil
  return true
end

-- The secret volume container c mounts at path, if any (its name, and the volume).
local function secret_mount(task, c, path)
  for _, m in ipairs(c.volumeMounts or {}) do
    if m.mountPath == path then
      local v = find_volume(task, m.name)
      if v and v.secret then return m.name, v end
      return nil
    end
  end
end

-- A volume for the secret source `src` (taken), mounted by c at path in place of `old`'s
-- mount, with old's items that src does not replace: for a volume other mounts share.
local function split_off(task, c, old, path, src, short)
  local name = _M.generated_name(task, short)
  local have = {}
  for _, item in ipairs(src.items or {}) do have[item.path] = true end
  for _, item in ipairs(old.secret.items or {}) do
    if not have[item.path] then
      src.items = src.items or array()
      src.items[#src.items + 1] = copy(item)
    end
  end
  put_volume(task, { name = name, secret = src })
  set_mount(c, path, name)
  return find_volume(task, name)
end

local function last_segment(secret)
  return secret:match("([^/]+)$")
end

--[[
Secret files: gcloud's managed-platform rules. Removes and clears first (a file
gone from a volume; a volume left with no file unmounted), then the new files
grouped by directory, one secret per directory: a directory already mounted
from the same secret keeps its other files; from another secret, only when
every file is replaced; a volume another mount shares is split off first.
Secret volumes that nothing mounts any more are dropped.
]]
local function secret_files(task, c, containers, updates, removes, clear_others)
  local shared = {}
  for _, other in ipairs(containers) do
    if other ~= c then
      for _, m in ipairs(other.volumeMounts or {}) do shared[m.name] = true end
    end
  end
  if clear_others then
    c.volumeMounts = filtered(c.volumeMounts, function(m)
      local v = find_volume(task, m.name)
      return not (v and v.secret)
    end)
  else
    for _, r in ipairs(removes) do
      local dir, file = r:match("^(.*)/([^/]*)$")
      local name, v = secret_mount(task, c, dir)
      if name then
        if shared[name] then v = split_off(task, c, v, dir, copy(v.secret), last_segment(v.secret.secret)) end
        local items = filtered(v.secret.items, function(item) return item.path ~= file end)
        if items then
          v.secret.items = items
        else
          c.volumeMounts = filtered(c.volumeMounts, function(m) return m.mountPath ~= dir end)
        end
      end
    end
  end
  local new, dirs = {}, {}
  for _, u in ipairs(updates) do
    local dir, file = u.path:match("^(.*)/([^/]*)$")
    local item = { path = file, version = u.ref.version }
    if new[dir] then
      if new[dir].src.secret ~= u.ref.secret then
        return nil, "cannot update the secret at [" .. u.path .. "]: a different secret is already mounted in the "
          .. "same directory"
      end
      new[dir].src.items[#new[dir].src.items + 1] = item
    else
      new[dir] = { src = { secret = u.ref.secret, items = array({ item }) }, short = u.ref.short }
      dirs[#dirs + 1] = dir
    end
  end
  for _, dir in ipairs(dirs) do
    local src, short = new[dir].src, new[dir].short
    local name, v = secret_mount(task, c, dir)
    if name then
      local uses = 0
      for _, m in ipairs(c.volumeMounts or {}) do
        if m.name == name then uses = uses + 1 end
      end
      if uses > 1 or shared[name] then
        split_off(task, c, v, dir, src, short)
      else
        local have = {}
        for _, item in ipairs(src.items) do have[item.path] = true end
        for _, item in ipairs(v.secret.items or {}) do
          if v.secret.secret == src.secret then
            if not have[item.path] then src.items[#src.items + 1] = copy(item) end
          elseif not have[item.path] then
            return nil, "multiple secrets are specified for directory [" .. dir .. "]: Cloud Run only supports one "
              .. "secret per directory"
          end
        end
        v.secret = src
      end
    else
      for _, m in ipairs(c.volumeMounts or {}) do
        if m.mountPath == dir then
          return nil, "cannot update mount [" .. dir .. "]: its mounted volume is of a different source type"
        end
      end
      local fresh = _M.generated_name(task, short)
      put_volume(task, { name = fresh, secret = src })
      set_mount(c, dir, fresh)
    end
  end
  local mounted = {}
  for _, other in ipairs(containers) do
    for _, m in ipairs(other.volumeMounts or {}) do mounted[m.name] = true end
  end
  task.volumes = filtered(task.volumes, function(v) return not v.secret or mounted[v.name] end)
  return true
end

--- The secrets flags of one container (c, among the template's `containers`):
-- --set-secrets, --update-secrets, --remove-secrets, --clear-secrets. true | nil, message
function _M.secrets(task, c, containers, flags)
  local set, update = flags["set-secrets"], flags["update-secrets"]
  if not (set or update or flags["remove-secrets"] or flags["clear-secrets"]) then return true end
  local flag = update and "--update-secrets" or "--set-secrets"
  local entries, err = flag_groups.dict_values(flag, update or set or {})
  if not entries then return nil, err end
  local env, order, files = {}, {}, {}
  for _, kv in ipairs(entries) do
    local key = trim(kv.name)
    local ref
    ref, err = reachable(flag, key, kv.value)
    if not ref then return nil, err end
    if key:sub(1, 1) == "/" then
      if not mount_point_ok(key) then
        return nil, flag .. ": mount path [" .. key .. "] must be in the form /<mountPath>/<path>"
      end
      files[#files + 1] = { path = key, ref = ref }
    else
      if not env[key] then order[#order + 1] = key end
      env[key] = ref
    end
  end
  local env_removes, file_removes, any_env_remove = {}, {}, false
  for _, r in ipairs(flag_groups.list_values(flags["remove-secrets"])) do
    r = r:gsub("^%s+", "")
    if r:sub(1, 1) == "/" then
      file_removes[#file_removes + 1] = r
    else
      env_removes[r], any_env_remove = true, true
    end
  end
  -- as gcloud: a --set-secrets with no pair clears nothing
  local clear_others = (set ~= nil and #entries > 0) or flags["clear-secrets"] == true
  local ok
  if #order > 0 or any_env_remove or clear_others then
    ok, err = secret_env(c, env, order, env_removes, clear_others)
    if not ok then return nil, err end
  end
  if #files > 0 or #file_removes > 0 or clear_others then
    ok, err = secret_files(task, c, containers, files, file_removes, clear_others)
    if not ok then return nil, err end
  end
  return true
end

-- ---- volumes and mounts -------------------------------------------------------------

-- The volume types gcloud's GA track has: their keys besides name, type and mount-path.
local TYPES = {
  ["in-memory"] = { required = {}, optional = { ["size-limit"] = true } },
  ["cloud-storage"] = { required = { "bucket" }, optional = { readonly = true, ["mount-options"] = true } },
  nfs = { required = { "location" }, optional = { readonly = true } },
}

local function readonly(v)
  return v.readonly ~= nil and v.readonly:lower() == "true" or nil
end

-- The v2 Volume for one --add-volume's keys, or nil, message.
local function volume_of(v)
  local kind = TYPES[v.type]
  if not kind then
    return nil, "--add-volume: volume type " .. v.type .. " not supported (in-memory, cloud-storage or nfs)"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  sort(keys)
  for _, k in ipairs(keys) do
    if k ~= "name" and k ~= "type" and k ~= "mount-path" and not kind.optional[k] then
      local ok = false
      for _, r in ipairs(kind.required) do ok = ok or r == k end
      if not ok then
        return nil, "--add-volume: volume " .. v.name .. " of type " .. v.type .. " had unexpected parameter " .. k
      end
    end
  end
  local missing = {}
  for _, r in ipairs(kind.required) do
    if v[r] == nil then missing[#missing + 1] = r end
  end
  if #missing > 0 then
    return nil, "--add-volume: volume " .. v.name .. " of type " .. v.type .. " requires the following parameters: "
      .. concat(missing, ", ")
  end
  if v.type == "in-memory" then
    return { name = v.name, emptyDir = { medium = "MEMORY", sizeLimit = v["size-limit"] } }
  elseif v.type == "cloud-storage" then
    local options = v["mount-options"] and array(common.split_list("^;^" .. v["mount-options"])) or nil
    return { name = v.name, gcs = { bucket = v.bucket, readOnly = readonly(v), mountOptions = options } }
  end
  local server, path = v.location:match("^(.-):/(.*)$")
  if not server then
    return nil, "--add-volume: volume " .. v.name .. ": field 'location' must be of the form IP_ADDRESS:/DIRECTORY"
  end
  return { name = v.name, nfs = { server = server, path = "/" .. path, readOnly = readonly(v) } }
end

--- --add-volume (each a volume, in the place of one of the same name, or last). A
-- volume with mount-path is also mounted in `default` (the container the flags
-- change when no --container is given: a function that gives it), or refused
-- with --container (grouped). true | nil, message
function _M.add(task, flags, default, grouped)
  local mounts = {}
  for _, one in ipairs(flags["add-volume"] or {}) do
    local pairs_given, err = flag_groups.dict_values("--add-volume", one)
    if not pairs_given then return nil, err end
    local v = {}
    for _, kv in ipairs(pairs_given) do v[kv.name] = kv.value end
    if not v.type then return nil, "--add-volume: a volume needs a type (type=in-memory, cloud-storage or nfs)" end
    if v["mount-path"] then
      if grouped then
        return nil, "--add-volume: with --container, mount-path cannot be given here: mount the volume with "
          .. "--add-volume-mount after the --container it is for"
      end
      v.name = v.name or _M.generated_name(task, v.type)
      mounts[#mounts + 1] = { v.name, v["mount-path"] }
    end
    if not v.name then return nil, "--add-volume: a volume needs name=NAME when mount-path is not given" end
    local volume
    volume, err = volume_of(v)
    if not volume then return nil, err end
    put_volume(task, volume)
  end
  if #mounts > 0 then
    local c = default()
    for _, m in ipairs(mounts) do set_mount(c, m[2], m[1]) end
  end
  return true
end

--- --remove-volume and --clear-volumes (volumes only: mounts stay, as gcloud leaves them).
function _M.drop(task, flags)
  if flags["clear-volumes"] then
    task.volumes = nil
  elseif flags["remove-volume"] then
    local gone = {}
    for _, name in ipairs(flag_groups.list_values(flags["remove-volume"])) do gone[name] = true end
    task.volumes = filtered(task.volumes, function(v) return not gone[v.name] end)
  end
  return true
end

--- --remove-volume-mount and --clear-volume-mounts, on container c.
function _M.unmount(c, flags)
  if flags["clear-volume-mounts"] then
    c.volumeMounts = nil
  elseif flags["remove-volume-mount"] then
    local gone = {}
    for _, path in ipairs(flag_groups.list_values(flags["remove-volume-mount"])) do gone[path] = true end
    c.volumeMounts = filtered(c.volumeMounts, function(m) return not gone[m.mountPath] end)
  end
  return true
end

--- --add-volume-mount volume=NAME,mount-path=PATH on container c (in the place of a
-- mount at that path). true | nil, message
function _M.mount(c, flags)
  for _, one in ipairs(flags["add-volume-mount"] or {}) do
    local given, err = flag_groups.dict_values("--add-volume-mount", one)
    if not given then return nil, err end
    local m = {}
    for _, kv in ipairs(given) do
      if kv.name ~= "volume" and kv.name ~= "mount-path" then
        return nil, "--add-volume-mount: key [" .. kv.name .. "] not recognized for volume mount: only keys "
          .. "\"volume\" and \"mount-path\" are supported"
      end
      m[kv.name] = kv.value
    end
    if not m.volume or not m["mount-path"] then
      return nil, "--add-volume-mount needs volume=NAME and mount-path=/PATH"
    end
    set_mount(c, m["mount-path"], m.volume)
  end
  return true
end

-- ---- Cloud SQL ----------------------------------------------------------------------

local CLOUDSQL = { "set-cloudsql-instances", "add-cloudsql-instances", "remove-cloudsql-instances",
  "clear-cloudsql-instances" }

--[[
The Cloud SQL flags: the instances of the volume "cloudsql" (v2 has no
annotation for them), each PROJECT:REGION:INSTANCE, a plain INSTANCE taking
the job's project and region from where() -> project, region | nil, err.
Returns true when they were changed, false when no such flag was given, or
nil, message-or-err.
]]
function _M.cloudsql(task, flags, where)
  local flag
  for _, f in ipairs(CLOUDSQL) do
    if flags[f] then flag = f end
  end
  if not flag then return false end
  local given = {}
  if flag ~= "clear-cloudsql-instances" then
    for i, s in ipairs(flag_groups.list_values(flags[flag])) do
      local parts = common.split_list("^:^" .. s)
      if #parts == 1 then
        local project, region = where()
        if not project then return nil, region end
        s = project .. ":" .. region .. ":" .. s
      elseif #parts ~= 3 then
        return nil, "--" .. flag .. ": malformed Cloud SQL instance string: " .. s
          .. " (INSTANCE or PROJECT:REGION:INSTANCE)"
      end
      given[i] = s
    end
  end
  local v = find_volume(task, "cloudsql")
  local current = v and v.cloudSqlInstance and v.cloudSqlInstance.instances or {}
  local instances = {}
  if flag == "set-cloudsql-instances" then
    instances = given
  elseif flag == "add-cloudsql-instances" or flag == "remove-cloudsql-instances" then
    local listed = {}
    for _, s in ipairs(given) do listed[s] = true end
    for _, s in ipairs(current) do
      if flag == "add-cloudsql-instances" or not listed[s] then instances[#instances + 1] = s end
      if flag == "add-cloudsql-instances" then listed[s] = nil end
    end
    if flag == "add-cloudsql-instances" then
      for _, s in ipairs(given) do
        if listed[s] then instances[#instances + 1] = s end
      end
    end
  end
  if #instances == 0 then
    task.volumes = filtered(task.volumes, function(x) return x.name ~= "cloudsql" end)
  else
    put_volume(task, { name = "cloudsql", cloudSqlInstance = { instances = array(instances) } })
  end
  return true
end

--- After the Cloud SQL flags: every container mounts the volume "cloudsql" at
-- /cloudsql while it is there (as the v1 annotation gave every container the
-- sockets), and none mounts it once it is gone.
function _M.cloudsql_mounts(task)
  local there = find_volume(task, "cloudsql") ~= nil
  for _, c in ipairs(task.containers or {}) do
    local has = false
    for _, m in ipairs(c.volumeMounts or {}) do has = has or m.name == "cloudsql" end
    if there and not has then
      c.volumeMounts = c.volumeMounts or array()
      c.volumeMounts[#c.volumeMounts + 1] = { name = "cloudsql", mountPath = "/cloudsql" }
    elseif not there and has then
      c.volumeMounts = filtered(c.volumeMounts, function(m) return m.name ~= "cloudsql" end)
    end
  end
end

return _M
