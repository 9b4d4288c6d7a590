--- cloudrun.cli — the `cloudrun` command, with gcloud's habits. Each command
-- is one table (its words, arguments, flags and help, and run(ctx)) in the
-- module of its group (`jobs execute` in one of its own); this file finds the
-- command a line names (loading only its module: `where` below), answers
-- --help from the same table without doing anything else, parses the flags
-- and runs it. The exit statuses, the environment and every command's help
-- are tables here and in the commands' modules, which both the help and the
-- man page (`cloudrun help --man`, cli/man.lua) print. Only the C launcher
-- exits; `cloudrun emulator` is handled there before Lua starts.
local common = require("cloudrun.cli.common")

local io, ipairs, pairs, type, tostring, error, xpcall, setmetatable, concat, sort =
  io, ipairs, pairs, type, tostring, error, xpcall, setmetatable, table.concat, table.sort

local _M = {}

-- The command groups, and what they are for.
local groups = {
  [""] = "Drive Google Cloud Run Jobs from the shell, with gcloud's habits.",
  jobs = "Create, run and follow Cloud Run jobs.",
  ["jobs executions"] = "Follow, cancel and delete the executions of jobs.",
  ["jobs executions tasks"] = "The tasks of an execution.",
  ["jobs logs"] = "A job's logs across its executions (Cloud Logging).",
  auth = "The credentials in use: which ones, and a token for scripts.",
}

-- Commands that live outside the tree of tables (listed in the root help).
local extra = {
  { "emulator", "A local Cloud Run Jobs API that runs jobs as local processes ('cloudrun emulator --help')." },
  { "version", "Print the version." },
  { "help [COMMAND...]", "Print the help of a group or a command." },
}

-- What every command shares, said once in the root help and the man page.
local note = "Every command takes --project, --region, --format, --quiet and --help, anywhere on the line."

-- The environment variables the command (and the library under it) reads.
local environment = {
  { "CLOUD_RUN_EMULATOR_HOST", "HOST:PORT of an emulator ('cloudrun emulator'): requests go there over plain "
    .. "HTTP, without credentials" },
  { "CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN", "another Cloud Run API endpoint (credentials are still sent)" },
  { "CLOUDSDK_API_ENDPOINT_OVERRIDES_LOGGING", "another Cloud Logging API endpoint, for the logs" },
  { "GOOGLE_APPLICATION_CREDENTIALS", "a credentials file (else gcloud's application default credentials, "
    .. "else the metadata server)" },
  { "GCE_METADATA_HOST", "the metadata server (default metadata.google.internal)" },
  { "GCE_METADATA_TIMEOUT", "seconds the probe of the metadata server may take (default 2)" },
  { "GOOGLE_CLOUD_PROJECT", "the project when --project is not given" },
  { "CLOUDSDK_CORE_PROJECT", "the project when --project and $GOOGLE_CLOUD_PROJECT are not given" },
  { "GOOGLE_CLOUD_QUOTA_PROJECT", "the project billed for the calls' quota (x-goog-user-project)" },
  { "CLOUDSDK_RUN_REGION", "the region when --region is not given" },
  { "CLOUDSDK_CONFIG", "gcloud's configuration directory (default ~/.config/gcloud): its application "
    .. "default credentials and configurations, and this command's access-token cache (cloudrun/)" },
  { "CLOUDRUN_TOKEN_CACHE", "0: keep no access token in $CLOUDSDK_CONFIG/cloudrun/access_tokens.json for the "
    .. "next process (on by default)" },
  { "CLOUDSDK_ACTIVE_CONFIG_NAME", "the gcloud configuration whose [core] project and [run] region are used" },
  { "CLOUDSDK_CORE_DISABLE_PROMPTS", "1: never ask, as --quiet" },
}

-- The exit statuses.
local statuses = {
  { tostring(common.OK), "success" },
  { tostring(common.FAILED), "the execution failed (--wait), or one of those waited for (executions wait)" },
  { tostring(common.USAGE), "bad usage" },
  { tostring(common.API), "the API or the credentials refused or failed" },
  { "130", "Ctrl-C stopped the waiting (the execution goes on)" },
}

--[[
Where each command is defined: the tree of command words, each command's
leaf naming the module that holds its table. A line loads only the module
of the command it names (a one-shot `jobs execute` loads none of the others,
nor what they need); a group's help, a near-miss suggestion's list and the
man page load them all. A module's commands are checked against this tree as
it loads (load below), and the build's `cloudrun help --man` loads every
one: the two cannot drift.
]]
local where = {
  jobs = {
    execute = "execute",
    create = "jobs", update = "jobs", deploy = "jobs", describe = "jobs", delete = "jobs", list = "jobs",
    executions = {
      list = "executions", describe = "executions", cancel = "executions", delete = "executions",
      wait = "executions", tasks = { list = "executions", describe = "executions" },
      logs = "logs",
    },
    logs = { read = "logs", tail = "logs" },
    ["get-iam-policy"] = "iam", ["set-iam-policy"] = "iam", ["add-iam-policy-binding"] = "iam",
    ["remove-iam-policy-binding"] = "iam",
  },
  auth = { ["print-access-token"] = "auth", describe = "auth" },
}
local module_names = { "execute", "jobs", "executions", "auth", "logs", "iam" }

-- The tree of nodes: a group { words, children, names }, a command's leaf
-- { words, module } (and its table as .command once its module is loaded).
-- leaf_of: "jobs execute" -> its leaf.
local leaf_of = {}
local function grow(words, t)
  local node = { words = words, children = {}, names = {} }
  for name, v in pairs(t) do
    local path = {}
    for i = 1, #words do path[i] = words[i] end
    path[#path + 1] = name
    node.names[#node.names + 1] = name
    if type(v) == "table" then
      node.children[name] = grow(path, v)
    else
      node.children[name] = { words = path, module = v }
      leaf_of[concat(path, " ")] = node.children[name]
    end
  end
  return node
end
local root = grow({}, where)

-- Loads a module of commands and hangs each command's table on its leaf.
local loaded = {}
local function load(module)
  if loaded[module] then return end
  loaded[module] = true
  local seen = {}
  for _, command in ipairs(require("cloudrun.cli." .. module).commands) do
    local line = concat(command.path, " ")
    local leaf = leaf_of[line]
    if not leaf or leaf.module ~= module then
      error("cloudrun.cli: '" .. line .. "' (cloudrun.cli." .. module .. ") is not in cli/init.lua's where table")
    end
    leaf.command, seen[line] = command, true
  end
  for line, leaf in pairs(leaf_of) do
    if leaf.module == module and not seen[line] then
      error("cloudrun.cli: cloudrun.cli." .. module .. " defines no '" .. line .. "'")
    end
  end
end

local function load_all()
  for _, m in ipairs(module_names) do load(m) end
  for line, leaf in pairs(leaf_of) do
    if not leaf.command then error("cloudrun.cli: '" .. line .. "' names a module not in module_names") end
  end
end

-- The command of a leaf (its module loaded), nil for a group.
local function command_of(node)
  if node.module then load(node.module) end
  return node.command
end

local function words_of(node)
  return concat(node.words, " ")
end

-- Every command under a node, depth first in name order, as rows of
-- { "words ARGS" relative to the node, summary }.
local function leaves(node, prefix, rows)
  local names = {}
  for i, name in ipairs(node.names) do names[i] = name end
  sort(names)
  for _, name in ipairs(names) do
    local child = node.children[name]
    local label = prefix .. name
    if child.module then
      for _, a in ipairs(child.command.args or {}) do label = label .. " " .. a end
      rows[#rows + 1] = { label, child.command.summary }
    else
      leaves(child, label .. " ", rows)
    end
  end
  return rows
end

--- The help of a group: every command under it, each with its summary.
local function group_help(node)
  load_all()
  local key = words_of(node)
  local out = {
    "usage: cloudrun " .. (key ~= "" and (key .. " ") or "") .. "<command> [flags]", "", groups[key] or "",
    "", "commands:", common.listing(leaves(node, "", {})),
  }
  if key == "" then
    out[#out + 1] = ""
    out[#out + 1] = "also:"
    out[#out + 1] = common.listing(extra)
    out[#out + 1] = ""
    out[#out + 1] = note
    out[#out + 1] = ""
    out[#out + 1] = "environment:"
    out[#out + 1] = common.listing(environment)
    out[#out + 1] = ""
    out[#out + 1] = "exit status:"
    out[#out + 1] = common.listing(statuses)
  end
  out[#out + 1] = ""
  out[#out + 1] = "Run 'cloudrun " .. (key ~= "" and (key .. " ") or "") .. "<command> --help' for a command's flags."
  return concat(out, "\n")
end

-- The global flags that take a value: their value is not a command word.
local takes_value = {}
for _, f in ipairs(common.global_flags) do
  if f[2] then takes_value["--" .. f[1]] = true end
end

--[[
Finds what the line names. Leading words that name groups and a command are
the command; global flags may come before, between or after them. Returns the
node reached, the remaining words (flags and arguments, in order) and whether
--help/-h appears anywhere before a "--".
]]
local function resolve(args)
  local node, rest, help = root, {}, false
  local descending, i = true, 1
  while i <= #args do
    local a = args[i]
    if a == "--" then
      for j = i, #args do rest[#rest + 1] = args[j] end
      break
    end
    if a == "--help" or a == "-h" then
      help = true
    elseif takes_value[a] then
      rest[#rest + 1] = a
      i = i + 1
      if args[i] ~= nil then rest[#rest + 1] = args[i] end
    elseif a:sub(1, 1) == "-" then
      rest[#rest + 1] = a
      local name = a:match("^(%-%-[^=]+)=")
      if not (a == "--quiet" or a == "-q" or (name and takes_value[name])) then
        descending = false -- a command's own flag: what follows are its flags and arguments
      end
    elseif descending and not node.module and node.children[a] then
      node = node.children[a]
    else
      descending = false
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  return node, rest, help
end

-- What a command's run() gets.
local Context = {}
Context.__index = Context

function Context:usage(msg)
  return common.usage_error(msg, words_of(self.node))
end

function Context:client()
  return common.client(self.flags)
end

local function run(node, rest)
  local command = command_of(node)
  local pos, flags = common.parse(rest, command.flags)
  -- words: the command's own words as given, for one that reads its flags in order (execute's --container)
  local ctx = setmetatable({ node = node, command = command, pos = pos, flags = flags, words = rest }, Context)
  if not pos then return ctx:usage(flags) end
  local args = command.args or {}
  local variadic = #args > 0 and args[#args]:sub(-3) == "..." -- "EXECUTION...": one or more
  if (variadic and #pos < #args) or (not variadic and #pos ~= #args) then
    return ctx:usage(words_of(node) .. (#args == 0 and " takes no arguments" or (" takes " .. concat(args, " ")))
      .. (#pos > 0 and (", not '" .. concat(pos, " ") .. "'") or ""))
  end
  for _, f in ipairs(command.flags or {}) do
    if f.required and not flags[f[1]] then return ctx:usage(words_of(node) .. " needs --" .. f[1]) end
  end
  -- An err table raised by the library (an iterator's) is a failure of the
  -- API, reported as one; anything else raised is a bug, passed on.
  local traceback = debug.traceback
  local ok, status = xpcall(function() return command.run(ctx) end, function(e)
    if type(e) == "table" and e.code then return e end
    return traceback(tostring(e), 2)
  end)
  if ok then return status end
  if type(status) == "table" then return common.api_failure(status) end
  error(status, 0)
end

-- The groups that have commands of their own, depth first in name order,
-- each as { words = "jobs executions", summary, commands = { command, ... } }.
local function groups_in_order(node, out)
  local names = {}
  for i, name in ipairs(node.names) do names[i] = name end
  sort(names)
  local commands = {}
  for _, name in ipairs(names) do
    if node.children[name].module then commands[#commands + 1] = node.children[name].command end
  end
  if #commands > 0 then
    out[#out + 1] = { words = words_of(node), summary = groups[words_of(node)], commands = commands }
  end
  for _, name in ipairs(names) do
    if not node.children[name].module then groups_in_order(node.children[name], out) end
  end
  return out
end

--- The whole command tree as one man page (roff), from the tables the help
-- prints. host.emulator_usage: `cloudrun emulator --help`'s text, which the C
-- launcher passes (the LuaRocks command has no emulator, and its page no such section).
function _M.man(host)
  load_all()
  return require("cloudrun.cli.man").cloudrun({
    version = require("cloudrun")._VERSION, summary = groups[""], note = note,
    groups = groups_in_order(root, {}), extra = extra, global_flags = common.global_flags,
    environment = environment, statuses = statuses, emulator_usage = host and host.emulator_usage,
  })
end

--- main(arg, host) -> exit status. arg[1..] are the command line words; host
-- (optional) is what the launcher adds: { emulator_usage = text }.
function _M.main(args, host)
  local words = {}
  for i = 1, #args do words[i] = args[i] end
  local asked_help = false
  if words[1] == "help" and words[2] == "--man" and #words == 2 then -- for the build, not in the help
    io.stdout:write(_M.man(host))
    return common.OK
  elseif words[1] == "help" then
    table.remove(words, 1)
    asked_help = true
  elseif words[1] == "version" or words[1] == "--version" then
    io.stdout:write("cloudrun (lua-cloudrun) ", require("cloudrun")._VERSION, "\n")
    return common.OK
  end
  local node, rest, help = resolve(words)
  if help or asked_help then
    local stray
    for _, w in ipairs(rest) do
      if w:sub(1, 1) ~= "-" then stray = w break end
    end
    if asked_help and stray and not node.module then
      return common.usage_error("unknown command '" .. concat(node.words, " ") .. (#node.words > 0 and " " or "")
        .. stray .. "'", words_of(node) ~= "" and words_of(node) or nil)
    end
    io.stdout:write(node.module and common.command_help(command_of(node)) or group_help(node), "\n")
    return common.OK
  end
  if node.module then return run(node, rest) end
  -- A group: a command must follow.
  local key = words_of(node)
  local stray
  for _, w in ipairs(rest) do
    if w:sub(1, 1) ~= "-" then stray = w break end
  end
  if stray then
    local near = common.closest(stray, node.names)
    common.say("cloudrun: unknown command '", key ~= "" and (key .. " ") or "", stray, "'",
      near and ("; did you mean '" .. (key ~= "" and (key .. " ") or "") .. near .. "'?") or "")
  elseif key ~= "" then
    common.say("cloudrun: '", key, "' needs a command")
  end
  io.stderr:write(group_help(node), "\n")
  return common.USAGE
end

return _M
