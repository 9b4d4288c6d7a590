--- cloudrun.cli.common — what the commands share: flag parsing with gcloud's
-- habits (--flag=value or --flag value, a,b,c lists, KEY=VALUE pairs), the
-- client from --project/--region, output as text or JSON, exit statuses.
local cloudrun = require("cloudrun")
local core = require("cloudrun.core")

local io, tostring, tonumber, ipairs, type = io, tostring, tonumber, ipairs, type

local _M = {}

_M.OK, _M.FAILED, _M.USAGE, _M.API = 0, 1, 2, 3

function _M.say(...)
  io.stderr:write(...)
  io.stderr:write("\n")
end

function _M.usage_error(msg)
  _M.say("cloudrun: ", msg)
  _M.say("run 'cloudrun help' for usage")
  return _M.USAGE
end

function _M.api_failure(err)
  _M.say("ERROR: ", tostring(err))
  return _M.API
end

-- Flags every command takes.
local common_flags = { project = "value", region = "value", format = "value", help = "bool" }

--- parse(args, first, spec) -> positionals, flags | nil, message
-- spec maps a flag name to "value" or "bool"; the common flags are added.
function _M.parse(args, first, spec)
  local pos, flags = {}, {}
  local i = first
  while i <= #args do
    local a = args[i]
    if a == "--" then
      for j = i + 1, #args do pos[#pos + 1] = args[j] end
      break
    elseif a:sub(1, 2) == "--" then
      local name, value = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
      local kind = spec[name] or common_flags[name]
      if not kind then return nil, "unknown flag --" .. name end
      if kind == "bool" then
        if value then return nil, "flag --" .. name .. " takes no value" end
        flags[name] = true
      else
        if not value then
          i = i + 1
          value = args[i]
          if value == nil then return nil, "flag --" .. name .. " needs a value" end
        end
        flags[name] = value
      end
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  if flags.format and flags.format ~= "json" then return nil, "--format must be json" end
  return pos, flags
end

--- gcloud's list flags: a,b,c (gcloud's ^DELIM^a;b form is accepted too).
function _M.split_list(s)
  local delim = ","
  local custom, rest = s:match("^%^(.-)%^(.*)$")
  if custom then delim, s = custom, rest end
  local out, start = {}, 1
  if s == "" then return out end
  while true do
    local a, b = s:find(delim, start, true)
    if not a then out[#out + 1] = s:sub(start) break end
    out[#out + 1] = s:sub(start, a - 1)
    start = b + 1
  end
  return out
end

--- KEY=VALUE,... -> list of {name=, value=} | nil, message
function _M.env_pairs(flag, s)
  local env = {}
  for _, kv in ipairs(_M.split_list(s)) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if not k then return nil, flag .. " expects KEY=VALUE pairs, got '" .. kv .. "'" end
    env[#env + 1] = { name = k, value = v }
  end
  return env
end

--- A positive integer flag, or nil, message.
function _M.count(flag, s, min)
  local n = tonumber(s)
  if not n or n < (min or 1) or n % 1 ~= 0 then
    return nil, flag .. " must be an integer of at least " .. (min or 1)
  end
  return math.floor(n) -- an integer on 5.3+ (n is integral), a number before
end

--- Seconds from a gcloud duration ("600", "10m", "1h30m"), or nil, message.
function _M.duration(flag, s)
  local secs = core.duration(s)
  if not secs or secs <= 0 then return nil, flag .. ": '" .. s .. "' is not a duration (e.g. 600, 10m, 1h30m)" end
  return secs
end

function _M.client(flags)
  return cloudrun.client{ project = flags.project, region = flags.region }
end

function _M.print_json(value)
  io.stdout:write(core.json_encode(value, true), "\n")
end

function _M.short(name)
  return (type(name) == "string" and name:match("([^/]+)$")) or tostring(name)
end

--- The Completed (or Ready) condition's state and message.
function _M.condition(resource, kind)
  for _, c in ipairs(resource.conditions or {}) do
    if c.type == kind then return c.state, c.message end
  end
  if resource.terminalCondition and resource.terminalCondition.type == kind then
    return resource.terminalCondition.state, resource.terminalCondition.message
  end
end

--- Prints rows as aligned columns under a header.
function _M.table(header, rows)
  local widths = {}
  for i, h in ipairs(header) do widths[i] = #h end
  for _, r in ipairs(rows) do
    for i, v in ipairs(r) do
      r[i] = tostring(v)
      if #r[i] > widths[i] then widths[i] = #r[i] end
    end
  end
  local function line(r)
    local parts = {}
    for i, v in ipairs(r) do
      parts[i] = i < #r and v .. (" "):rep(widths[i] - #v) or v
    end
    io.stdout:write(table.concat(parts, "  "), "\n")
  end
  line(header)
  for _, r in ipairs(rows) do line(r) end
end

--- Key: value lines for `describe`.
function _M.fields(list)
  local w = 0
  for _, kv in ipairs(list) do if kv[2] ~= nil and #kv[1] > w then w = #kv[1] end end
  for _, kv in ipairs(list) do
    if kv[2] ~= nil then io.stdout:write(kv[1], ":", (" "):rep(w - #kv[1] + 1), tostring(kv[2]), "\n") end
  end
end

--- Every item of a paged list, up to `limit` (nil: all), or nil, err.
function _M.collect(iter, limit)
  local out = {}
  for item, err in iter do
    if err then return nil, err end
    out[#out + 1] = item
    if limit and #out >= limit then break end
  end
  return out
end

--- The shape every list command has: flags (with --limit), a client, every
-- item across pages, then JSON or a table. `spec.check(pos, flags)` returns
-- a usage message or nil; `spec.each(client, flags)` the iterator;
-- `spec.header` the columns and `spec.row(item)` one row.
function _M.list(args, first, flags_spec, spec)
  flags_spec.limit = "value"
  local pos, flags = _M.parse(args, first, flags_spec)
  if not pos then return _M.usage_error(flags) end
  local problem = spec.check(pos, flags)
  if problem then return _M.usage_error(problem) end
  local limit, err
  if flags.limit then
    limit, err = _M.count("--limit", flags.limit)
    if not limit then return _M.usage_error(err) end
  end
  local client
  client, err = _M.client(flags)
  if not client then return _M.api_failure(err) end
  local items
  items, err = _M.collect(spec.each(client, flags), limit)
  if not items then return _M.api_failure(err) end
  if flags.format then
    _M.print_json(setmetatable(items, core.array_mt))
    return _M.OK
  end
  local rows = {}
  for i, item in ipairs(items) do rows[i] = spec.row(item) end
  _M.table(spec.header, rows)
  return _M.OK
end

--- The shape of commands on one resource: exactly one NAME, then a client.
-- Returns client, name, flags; or nil, exit status after reporting why.
function _M.one(args, first, flags_spec, command, what)
  local pos, flags = _M.parse(args, first, flags_spec)
  if not pos then return nil, _M.usage_error(flags) end
  if #pos ~= 1 then return nil, _M.usage_error(command .. " takes exactly one " .. what) end
  local client, err = _M.client(flags)
  if not client then return nil, _M.api_failure(err) end
  return client, pos[1], flags
end

return _M
