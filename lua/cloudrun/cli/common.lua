--- cloudrun.cli.common — what the commands share: the flag parser and the
-- help text, both made from a command's one table of flags (so that help and
-- parser cannot drift); gcloud's value forms (a,b,c lists, KEY=VALUE pairs,
-- durations); the client from --project/--region; output (one writer per
-- stream, which on a terminal shows outside text escaped); the confirmation
-- prompt; exit statuses.
local cloudrun = require("cloudrun")
local core = require("cloudrun.core")
local format = cloudrun._lazy("cloudrun.cli.format") -- only a line that prints a result loads it

local io, os, tostring, tonumber, ipairs, pairs, type, setmetatable, getmetatable, select =
  io, os, tostring, tonumber, ipairs, pairs, type, setmetatable, getmetatable, select
local concat, rep = table.concat, string.rep
local byte, find, sub, sformat = string.byte, string.find, string.sub, string.format

local _M = {}

_M.OK, _M.FAILED, _M.USAGE, _M.API = 0, 1, 2, 3

--- The --format forms cli/format.lua supports, as messages and help text name them.
_M.FORMAT_FORMS = "json, yaml, value(FIELD,...), table(FIELD[:label=NAME],...)"

-- Flags every command takes, anywhere on the line. A flag is
-- { name, VALUE-or-false (false: a switch), help, short = "-x" }; many = true: the flag
-- may be given again, and its value is the list of every one given, in order.
_M.global_flags = {
  { "project", "PROJECT", "the Google Cloud project (default: $GOOGLE_CLOUD_PROJECT, $CLOUDSDK_CORE_PROJECT, "
    .. "gcloud's [core] project, the credentials, the metadata server)" },
  { "region", "REGION", "the region of the jobs (default: $CLOUDSDK_RUN_REGION, gcloud's [run] region, "
    .. "the metadata server)" },
  { "format", "FORMAT", "print the result for scripts: " .. _M.FORMAT_FORMS
    .. " (field paths are the v2 REST API's names, as --format json shows them)" },
  { "quiet", false, "never ask: answer prompts with their default (deleting goes ahead)", short = "-q" },
  { "help", false, "print this help and do nothing else", short = "-h" },
}

-- ---- text from outside, on a terminal ----------------------------------------------

-- A byte that is not printable ASCII (nor tab or newline): where a look is needed.
local SPECIAL = "[%z\1-\8\11-\31\127-\255]"

-- The length of the valid UTF-8 sequence led by byte b (>= 0xC2) at i, or
-- nil: no overlong forms, no surrogates, nothing past U+10FFFF (RFC 3629).
local function sequence(s, i, b)
  local n
  local lo, hi = 0x80, 0xBF
  if b <= 0xDF then
    n = 2
  elseif b <= 0xEF then
    n = 3
    if b == 0xE0 then lo = 0xA0 elseif b == 0xED then hi = 0x9F end
  elseif b <= 0xF4 then
    n = 4
    if b == 0xF0 then lo = 0x90 elseif b == 0xF4 then hi = 0x8F end
  else
    return nil
  end
  local c = byte(s, i + 1)
  if not c or c < lo or c > hi then return nil end
  for k = i + 2, i + n - 1 do
    c = byte(s, k)
    if not c or c < 0x80 or c > 0xBF then return nil end
  end
  return n
end

--[[
terminal_safe(text) -> the text with nothing in it a terminal would act on.
A server's or a task's text may carry escape sequences (a window title, an
OSC 52 clipboard write, a cleared screen). Each byte of a C0 control other
than tab and newline, of DEL, of a C1 control (U+0080..U+009F, which many
terminals take as CSI, OSC...) and each byte that is not part of valid UTF-8
is shown as \xHH, one per byte, in lower case: \x1b, \x7f, \xc2\x9b, \xff.
The rest, valid UTF-8 included, stays as it is. By hand: Lua 5.1 and LuaJIT
have no utf8 library.
]]
function _M.terminal_safe(text)
  text = tostring(text)
  if not find(text, SPECIAL) then return text end
  local out, i = {}, 1
  while true do
    local j = find(text, SPECIAL, i)
    if not j then
      out[#out + 1] = sub(text, i)
      break
    end
    out[#out + 1] = sub(text, i, j - 1)
    local b = byte(text, j)
    local n = b >= 0xC2 and sequence(text, j, b)
    if not n then
      n = 1
      out[#out + 1] = sformat("\\x%02x", b)
    elseif b == 0xC2 and byte(text, j + 1) <= 0x9F then
      out[#out + 1] = sformat("\\x%02x\\x%02x", b, byte(text, j + 1))
    else
      out[#out + 1] = sub(text, j, j + n - 1)
    end
    i = j + n
  end
  return concat(out)
end

-- Whether stdout (1) or stderr (2) is a terminal, asked once.
local ttys = {}
local function on_terminal(fd)
  if ttys[fd] == nil then ttys[fd] = core.isatty(fd) and true or false end
  return ttys[fd]
end
_M.on_terminal = on_terminal

-- A writer for one stream: every value as it is in a pipe, through
-- terminal_safe on a terminal. Our own text passes unchanged (it has no
-- control but newlines); the few controls we do mean (progress's \r) are
-- written to the stream directly.
local function writer(file, fd)
  return function(...)
    if not on_terminal(fd) then return file:write(...) end
    local n, parts = select("#", ...), { ... }
    for i = 1, n do parts[i] = _M.terminal_safe(parts[i]) end
    return file:write(concat(parts, "", 1, n))
  end
end

--- Writes to stdout / stderr; on a terminal, outside text is shown escaped.
_M.stdout_write = writer(io.stdout, 1)
_M.stderr_write = writer(io.stderr, 2)

function _M.say(...)
  _M.stderr_write(...)
  io.stderr:write("\n")
end

--- Reports bad usage (exit 2), pointing at the help of `command` (words).
function _M.usage_error(msg, command)
  _M.say("cloudrun: ", msg)
  _M.say("run 'cloudrun ", command and (command .. " ") or "", "--help' for usage")
  return _M.USAGE
end

--- Reports a failure of the API or the credentials (exit 3).
function _M.api_failure(err)
  _M.say("ERROR: ", tostring(err))
  return _M.API
end

--- The candidate closest to `word` (edit distance), if it is close enough to be a typo.
function _M.closest(word, candidates)
  local function distance(a, b)
    local prev = {}
    for j = 0, #b do prev[j] = j end
    for i = 1, #a do
      local cur = { [0] = i }
      for j = 1, #b do
        local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
        cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      end
      prev = cur
    end
    return prev[#b]
  end
  local best, best_d
  for _, c in ipairs(candidates) do
    local d = distance(word, c)
    if not best_d or d < best_d then best, best_d = c, d end
  end
  if best and best_d <= math.max(2, math.floor(#word / 3)) then return best end
end

-- name -> flag, for the command's flags and the global ones.
local function index(flags)
  local by_name = {}
  for _, list in ipairs({ flags or {}, _M.global_flags }) do
    for _, f in ipairs(list) do
      by_name[f[1]] = f
      if f.short then by_name[f.short] = f end
    end
  end
  return by_name
end

--- parse(words, flags) -> positionals, values | nil, message
-- words: the command line after the command's own words; flags: the
-- command's flag table (the global ones are added). --flag=value and
-- --flag value; a switch takes no value; everything after "--" is positional.
-- A flag given twice keeps the last value, or every value when it is `many`.
function _M.parse(words, flags)
  local by_name = index(flags)
  local pos, values = {}, {}
  local i = 1
  while i <= #words do
    local a = words[i]
    if a == "--" then
      for j = i + 1, #words do pos[#pos + 1] = words[j] end
      break
    elseif a:sub(1, 1) == "-" and #a > 1 then
      local name, value = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:match("^%-%-(.+)$")
      local f = by_name[name or a]
      if not f then
        local names = {}
        for n, flag in pairs(by_name) do
          if n == flag[1] then names[#names + 1] = "--" .. n end
        end
        table.sort(names)
        local given = a:match("^[^=]*")
        local near = _M.closest(given, names)
        return nil, "unknown flag " .. given .. (near and ("; did you mean " .. near .. "?") or "")
      end
      name = f[1]
      if not f[2] then
        if value then return nil, "flag --" .. name .. " takes no value" end
        values[name] = true
      else
        if not value then
          i = i + 1
          value = words[i]
          if value == nil then return nil, "flag --" .. name .. " needs a value (" .. f[2] .. ")" end
        end
        if f.many then
          local list = values[name] or {}
          list[#list + 1] = value
          values[name] = list
        else
          values[name] = value
        end
      end
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  if values.format then
    local spec, err = format.parse(values.format)
    if not spec then return nil, err end
    values.format_spec = spec
  end
  return pos, values
end

--- "--name=VALUE" or "--name, -x" as help (and the man page) shows a flag.
local function flag_label(f)
  local label = "--" .. f[1] .. (f[2] and ("=" .. f[2]) or "")
  return f.short and (label .. ", " .. f.short) or label
end
_M.flag_label = flag_label

-- Two columns: labels, then their help folded to the terminal's usual width.
local function columns(rows, out)
  local w = 0
  for _, r in ipairs(rows) do if #r[1] > w then w = #r[1] end end
  w = w < 30 and w or 30
  for _, r in ipairs(rows) do
    local text, line = {}, ""
    for word in r[2]:gmatch("%S+") do
      if #line > 0 and w + 4 + #line + 1 + #word > 100 then
        text[#text + 1] = line
        line = word
      else
        line = #line > 0 and (line .. " " .. word) or word
      end
    end
    text[#text + 1] = line
    local label = "  " .. r[1]
    if #r[1] > w then
      out[#out + 1] = label
      label = ""
    end
    for k, t in ipairs(text) do
      out[#out + 1] = (k == 1 and label or "") .. rep(" ", w + 4 - (k == 1 and #label or 0)) .. t
    end
  end
end

--- The synopsis of a command: "cloudrun jobs create JOB --image=IMAGE [flags]".
function _M.synopsis(command)
  local parts = { "cloudrun", concat(command.path, " ") }
  for _, a in ipairs(command.args or {}) do parts[#parts + 1] = a end
  for _, f in ipairs(command.flags or {}) do
    if f.required then parts[#parts + 1] = "--" .. f[1] .. "=" .. f[2] end
  end
  parts[#parts + 1] = "[flags]"
  return concat(parts, " ")
end

--- The help of one command, from the same table the parser reads.
function _M.command_help(command)
  local out = { "usage: " .. _M.synopsis(command), "", command.summary }
  if command.details then out[#out + 1] = "" out[#out + 1] = command.details end
  if command.flags and #command.flags > 0 then
    out[#out + 1] = ""
    out[#out + 1] = "flags:"
    local rows = {}
    for i, f in ipairs(command.flags) do rows[i] = { flag_label(f), f[3] } end
    columns(rows, out)
  end
  out[#out + 1] = ""
  out[#out + 1] = "global flags:"
  local rows = {}
  for i, f in ipairs(_M.global_flags) do rows[i] = { flag_label(f), f[3] } end
  columns(rows, out)
  return concat(out, "\n")
end

--- Rows of "name  summary" for listings of commands.
function _M.listing(rows)
  local out = {}
  columns(rows, out)
  return concat(out, "\n")
end

-- ---- gcloud's value forms ---------------------------------------------------------

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

--- A whole number flag of at least `min` (default 1), or nil, message.
function _M.count(flag, s, min)
  local n = tonumber(s)
  if not n or n < (min or 1) or n % 1 ~= 0 or n > 2 ^ 31 - 1 then
    return nil, flag .. " must be a whole number of at least " .. (min or 1) .. ", not '" .. s .. "'"
  end
  return math.floor(n) -- an integer on 5.3+ (n is integral), a number before
end

--- Seconds from a gcloud duration ("600", "10m", "1h30m"), or nil, message.
function _M.duration(flag, s)
  local secs = core.duration(s)
  if not secs or secs <= 0 then return nil, flag .. ": '" .. s .. "' is not a duration (e.g. 600, 10m, 1h30m)" end
  return secs
end

-- ---- the client, output ------------------------------------------------------------

function _M.client(flags)
  return cloudrun.client{ project = flags.project, region = flags.region }
end

--- The error of a finished Operation (a google.rpc.Status) as an err value.
function _M.operation_error(op)
  local e = op.error
  local code = type(e.code) == "number" and e.code ~= 0 and core.code_name(e.code) or "UNKNOWN"
  return core.error(code, tostring(e.message or "the operation failed"))
end

-- A copy of a resource whose strings (keys too) are terminal_safe, the
-- array marks kept: for the columns of value() and table(), measured after.
local function safe_copy(v, depth)
  if type(v) == "string" then return _M.terminal_safe(v) end
  if type(v) ~= "table" or depth > 100 then return v end -- deeper: render refuses it
  local copy = setmetatable({}, getmetatable(v))
  for k, x in pairs(v) do
    copy[type(k) == "string" and _M.terminal_safe(k) or k] = safe_copy(x, depth + 1)
  end
  return copy
end

--- Prints a resource (or, with list = true, a list of them) as --format says.
function _M.print(flags, value, list)
  local spec = flags.format_spec
  if on_terminal(1) and (spec.kind == "value" or spec.kind == "table") then value = safe_copy(value, 0) end
  _M.stdout_write(format.render(spec, value, { list = list or false }))
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
  local shown = on_terminal(1) and _M.terminal_safe or tostring -- escaped before measured
  for _, r in ipairs(rows) do
    for i, v in ipairs(r) do
      r[i] = shown(v)
      if #r[i] > widths[i] then widths[i] = #r[i] end
    end
  end
  local function line(r)
    local parts = {}
    for i, v in ipairs(r) do
      parts[i] = i < #r and v .. rep(" ", widths[i] - #v) or v
    end
    _M.stdout_write(concat(parts, "  "), "\n")
  end
  line(header)
  for _, r in ipairs(rows) do line(r) end
end

--- Key: value lines for `describe`.
function _M.fields(list)
  local w = 0
  for _, kv in ipairs(list) do if kv[2] ~= nil and #kv[1] > w then w = #kv[1] end end
  for _, kv in ipairs(list) do
    if kv[2] ~= nil then _M.stdout_write(kv[1], ":", rep(" ", w - #kv[1] + 1), tostring(kv[2]), "\n") end
  end
end

-- ---- asking --------------------------------------------------------------------------

local function prompts_disabled(flags)
  local env = os.getenv("CLOUDSDK_CORE_DISABLE_PROMPTS")
  return flags.quiet or (env ~= nil and env ~= "" and env ~= "0" and env:lower() ~= "false")
end

--- Asks before something that cannot be undone, as gcloud does: on a
-- terminal "Do you want to continue (Y/n)?"; --quiet (or gcloud's
-- CLOUDSDK_CORE_DISABLE_PROMPTS=1) goes ahead without asking; with nobody
-- to ask, refuses. Returns true to go on, or nil, exit status after saying why.
function _M.confirm(ctx, message)
  if prompts_disabled(ctx.flags) then return true end
  if not (core.isatty(0) and core.isatty(2)) then
    _M.say("cloudrun: ", message)
    _M.say("cloudrun: this prompt could not be answered because you are not in an interactive session; "
      .. "re-run the command with --quiet to go ahead without asking")
    return nil, _M.USAGE
  end
  _M.stderr_write(message, "\n\nDo you want to continue (Y/n)?  ")
  io.stderr:flush()
  local answer = io.stdin:read("*l")
  answer = answer and answer:lower():match("^%s*(.-)%s*$")
  if answer == "" or answer == "y" or answer == "yes" then return true end
  _M.say("cloudrun: aborted, nothing was changed")
  return nil, _M.USAGE
end

_M.limit_flag = { "limit", "N", "list at most N items" }

return _M
