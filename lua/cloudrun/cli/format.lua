--- cloudrun.cli.format — the part of gcloud's --format language that scripts
-- use, spelt as gcloud spells it: json, yaml, value(FIELD,...) and
-- table(FIELD[:label=NAME],...). parse() turns the flag's text into a spec
-- (or nil and a message naming the supported forms); render() turns one
-- resource, or a list of them, into the whole output.
--
-- A FIELD is a path in the resource as the v2 REST API sends it (camelCase:
-- template.taskCount, latestCreatedExecution.name, conditions[0].type), not
-- gcloud's v1-shaped paths (spec.template..., status...). [N] counts from 0,
-- [-1] is the last item, [] takes the rest of the path in every item. A path
-- that names nothing prints as empty: only bad syntax is an error.
--
-- Lua cannot tell an empty array from an empty object, so arrays are told as
-- the JSON binding tells them (the core's array_mt, or keys exactly 1..n):
-- a decoded resource prints back to the same JSON.
local core = require("cloudrun.core")

local type, tostring, tonumber, error, pairs, ipairs, next, getmetatable, setmetatable, rawget =
  type, tostring, tonumber, error, pairs, ipairs, next, getmetatable, setmetatable, rawget
local byte, find, format, gsub, lower, match, rep, sub, upper =
  string.byte, string.find, string.format, string.gsub, string.lower, string.match, string.rep,
  string.sub, string.upper
local concat, sort, floor, huge = table.concat, table.sort, math.floor, math.huge

local array_mt = core.array_mt
local MAX_DEPTH = 100

local _M = {}

--- The supported forms, as messages and help text name them (said once, in cli/common.lua,
-- which prints the help without loading this module).
_M.forms = require("cloudrun.cli.common").FORMAT_FORMS

-- ---- values -------------------------------------------------------------------------

-- true, n for an array (marked as one, or keys exactly 1..n with n > 0, as
-- the JSON binding decides); false for an object.
local function is_array(t)
  local n = #t
  if getmetatable(t) == array_mt then return true, n end
  if n == 0 then return false end
  local count = 0
  for k in pairs(t) do
    if type(k) ~= "number" or k ~= floor(k) or k < 1 or k > n then return false end
    count = count + 1
  end
  return count == n, n
end

-- Byte order, which for UTF-8 is code point order: what Python's sort_keys
-- does, and unlike `<` not subject to the C library's locale.
local function before(a, b)
  local n = #a < #b and #a or #b
  for i = 1, n do
    local x, y = byte(a, i), byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    if type(k) ~= "string" then
      error("format.render: a table with a " .. type(k) .. " key cannot be printed as an object", 0)
    end
    keys[#keys + 1] = k
  end
  sort(keys, before)
  return keys
end

-- Integers without a decimal point on every Lua (5.1's numbers are all
-- floats); other numbers in the fewest digits that read back the same.
local function number_text(x)
  if x ~= x then return nil, "nan" end
  if x == huge or x == -huge then return nil, x > 0 and "inf" or "-inf" end
  local s = tostring(x)
  if find(s, "^%-?%d+$") then return s end -- a 5.3+ integer, or a small integral float
  if x == floor(x) and x > -2 ^ 63 and x < 2 ^ 63 then return format("%.0f", x) end
  for digits = 15, 17 do
    s = format("%." .. digits .. "g", x)
    if tonumber(s) == x then return s end
  end
  return s
end

-- ---- json ------------------------------------------------------------------------------

local json_escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
  ["\r"] = "\\r", ["\t"] = "\\t" }

local function json_escape(c)
  return json_escapes[c] or format("\\u%04x", byte(c))
end

-- As Python's json with ensure_ascii=False (gcloud's printer): UTF-8 as it
-- is, control characters escaped, "/" not.
local function json_string(s)
  return '"' .. gsub(s, '[%z\1-\31"\\]', json_escape) .. '"'
end

-- Appends v to buf: pretty (2 spaces, ",", ": ") when indent is a string,
-- on one line (", ", ": ") when it is nil. Keys sorted, as gcloud's printer does.
local function json_value(v, indent, buf, depth)
  local t = type(v)
  if t == "string" then
    buf[#buf + 1] = json_string(v)
  elseif t == "number" then
    buf[#buf + 1] = number_text(v) or "null" -- NaN and infinity have no JSON
  elseif t == "boolean" then
    buf[#buf + 1] = v and "true" or "false"
  elseif t == "nil" then
    buf[#buf + 1] = "null"
  elseif t == "table" then
    if depth > MAX_DEPTH then error("format.render: the value is nested too deeply (a cycle?)", 0) end
    local array, n = is_array(v)
    local keys = not array and sorted_keys(v)
    if (array and n == 0) or (keys and #keys == 0) then
      buf[#buf + 1] = array and "[]" or "{}"
      return
    end
    local inner = indent and (indent .. "  ")
    local sep = inner and (",\n" .. inner) or ", "
    buf[#buf + 1] = inner and ((array and "[\n" or "{\n") .. inner) or (array and "[" or "{")
    for i = 1, array and n or #keys do
      if i > 1 then buf[#buf + 1] = sep end
      if array then
        json_value(v[i], inner, buf, depth + 1)
      else
        buf[#buf + 1] = json_string(keys[i]) .. ": "
        json_value(v[keys[i]], inner, buf, depth + 1)
      end
    end
    buf[#buf + 1] = inner and ("\n" .. indent .. (array and "]" or "}")) or (array and "]" or "}")
  else
    error("format.render: a " .. t .. " cannot be printed", 0)
  end
end

local function render_json(value, list)
  if list then -- an array whatever its marks, without marking the caller's table
    local items = setmetatable({}, array_mt)
    for i = 1, #value do items[i] = value[i] end
    value = items
  end
  local buf = {}
  json_value(value, "", buf, 0)
  buf[#buf + 1] = "\n"
  return concat(buf)
end

-- ---- yaml ------------------------------------------------------------------------------

-- Plain scalars a YAML 1.1 or 1.2 reader would take for something other than
-- a string (quoting a few more than needed is harmless, fewer is not).
local typed_words = {}
for w in ("~ null true false yes no on off y n .inf +.inf -.inf .nan = <<"):gmatch("%S+") do
  typed_words[w] = true
end

local function typed(s)
  return typed_words[lower(s)]
    or (find(s, "^[-+]?%.?%d") and not find(s, "[^%x_.:+%-xXoO]")) -- numbers: 1e3, 0x1F, 1_000, 1:30
    or find(s, "^%d%d%d%d%-%d%d?%-%d%d?") -- timestamps
end

-- Characters that only a double-quoted scalar can hold: C0 controls but
-- newline (tab too, as PyYAML has it), DEL, C1 controls (U+0080-U+009F,
-- with NEL), the line and paragraph separators and the byte order mark.
local function needs_escapes(s)
  return find(s, "[%z\1-\9\11-\31\127]") or find(s, "\194[\128-\159]") or find(s, "\226\128[\168\169]")
    or find(s, "\239\187\191")
end

local yaml_escapes = { ["\0"] = "\\0", ["\a"] = "\\a", ["\b"] = "\\b", ["\t"] = "\\t", ["\n"] = "\\n",
  ["\v"] = "\\v", ["\f"] = "\\f", ["\r"] = "\\r", ["\27"] = "\\e", ['"'] = '\\"', ["\\"] = "\\\\",
  ["\194\133"] = "\\N", ["\226\128\168"] = "\\L", ["\226\128\169"] = "\\P", ["\239\187\191"] = "\\uFEFF" }

local function yaml_escape(c)
  if yaml_escapes[c] then return yaml_escapes[c] end
  if #c == 2 then return format("\\x%02X", byte(c, 2)) end -- U+0080..U+009F
  return format("\\x%02X", byte(c))
end

local function double_quoted(s)
  s = gsub(s, '[%z\1-\31\127"\\]', yaml_escape)
  s = gsub(s, "\194[\128-\159]", yaml_escape)
  s = gsub(s, "\226\128[\168\169]", yaml_escape)
  return '"' .. gsub(s, "\239\187\191", yaml_escape) .. '"'
end

-- Whether s can be written as it is (PyYAML's rules for block context).
local function plain(s)
  return s ~= ""
    and not find(s, "^[#,%[%]{}&*!|>'\"%%@`]")
    and not (find(s, "^[-?:]") and (#s == 1 or find(s, "^. ")))
    and not find(s, "^%-%-%-") and not find(s, "^%.%.%.")
    and not find(s, "^ ") and not find(s, " $")
    and not find(s, ": ", 1, true) and not find(s, ":$") and not find(s, " #", 1, true)
    and not typed(s)
end

-- A string as YAML: plain, 'single-quoted', "double-quoted with escapes",
-- or (allow_block, for multi-line values as gcloud prints them) a literal
-- block: returns the header ("|-", "|" or "|+") and its lines.
local function yaml_string(s, allow_block)
  if needs_escapes(s) then return double_quoted(s) end
  if find(s, "\n", 1, true) then
    -- A literal block keeps every character when no line ends in a space
    -- and the first line does not start with a space or a break (those
    -- would need an indentation indicator): else the escapes.
    if not allow_block or find(s, "^[ \n]") or find(s, " \n", 1, true) or find(s, " $") then
      return double_quoted(s)
    end
    local header, body = "|-", s
    if find(s, "\n\n$") then
      header, body = "|+", sub(s, 1, -2)
    elseif find(s, "\n$") then
      header, body = "|", sub(s, 1, -2)
    end
    local lines = {}
    for line in (body .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
    return header, lines
  end
  if plain(s) then return s end
  return "'" .. gsub(s, "'", "''") .. "'"
end

local function yaml_scalar(v, allow_block)
  local t = type(v)
  if t == "string" then return yaml_string(v, allow_block) end
  if t == "boolean" then return v and "true" or "false" end
  if t == "nil" then return "null" end
  if t == "number" then
    local s, special = number_text(v)
    if not s then return special == "nan" and ".nan" or (special == "inf" and ".inf" or "-.inf") end
    -- YAML 1.1 reads a float only with a "." (1e+20 is a string there)
    if find(s, "[eE]") and not find(s, ".", 1, true) then s = gsub(s, "[eE]", ".0e", 1) end
    return s
  end
  error("format.render: a " .. t .. " cannot be printed", 0)
end

local function pad(n)
  return rep(" ", n)
end

local yaml_node

-- A scalar, or an empty collection, on one line after `line`; nil for a
-- non-empty collection.
local function yaml_inline(v, line, col, out)
  if type(v) == "table" then
    local array, n = is_array(v)
    if array and n > 0 then return nil end
    if not array and next(v) ~= nil then return nil end
    out[#out + 1] = line .. (array and "[]" or "{}")
    return true
  end
  local text, lines = yaml_scalar(v, col > 0)
  out[#out + 1] = line .. text
  for _, l in ipairs(lines or {}) do out[#out + 1] = l == "" and "" or (pad(col) .. l) end
  return true
end

-- key: value, the key at column col, `lead` what the line starts with.
local function yaml_entry(key, v, lead, col, out, depth)
  local line = lead .. yaml_string(key, false) .. ":"
  if yaml_inline(v, line .. " ", col + 2, out) then return end
  out[#out + 1] = line
  if is_array(v) then
    -- sequences in mappings are not indented (PyYAML, and so gcloud)
    yaml_node(v, pad(col), col, out, depth + 1)
  else
    yaml_node(v, pad(col + 2), col + 2, out, depth + 1)
  end
end

-- A value whose first line starts with `lead` (a document's start, or
-- "- "); its lines after the first at column col.
function yaml_node(v, lead, col, out, depth)
  if depth > MAX_DEPTH then error("format.render: the value is nested too deeply (a cycle?)", 0) end
  if yaml_inline(v, lead, col, out) then return end
  local array, n = is_array(v)
  if array then
    for i = 1, n do
      yaml_node(v[i], (i == 1 and lead or pad(col)) .. "- ", col + 2, out, depth + 1)
    end
  else
    for i, k in ipairs(sorted_keys(v)) do
      yaml_entry(k, v[k], i == 1 and lead or pad(col), col, out, depth)
    end
  end
end

-- One document per resource of a list, each after "---", as gcloud prints
-- them; a single resource without the marker.
local function render_yaml(value, list)
  local out = {}
  if list then
    for i = 1, #value do
      out[#out + 1] = "---"
      yaml_node(value[i], "", 0, out, 0)
    end
  else
    yaml_node(value, "", 0, out, 0)
  end
  if #out == 0 then return "" end
  out[#out + 1] = ""
  return concat(out, "\n")
end

-- ---- value() and table() ------------------------------------------------------------

-- The value at a parsed path, or nil.
local function resolve(v, steps, first)
  for i = first, #steps do
    local step = steps[i]
    if type(v) ~= "table" then return nil end
    if step.key then
      v = rawget(v, step.key)
    else
      local array, n = is_array(v)
      if not array then return nil end
      if not step.index then -- [] : the rest of the path in every item
        local out = setmetatable({}, array_mt)
        for j = 1, n do
          local r = resolve(v[j], steps, i + 1)
          if r ~= nil then out[#out + 1] = r end
        end
        return out
      end
      v = rawget(v, step.index >= 0 and step.index + 1 or n + step.index + 1)
    end
  end
  return v
end

-- One scalar as gcloud's value() prints it (Python's str: True/False).
local function scalar_text(v)
  local t = type(v)
  if t == "nil" then return "" end
  if t == "string" then return v end
  if t == "boolean" then return v and "True" or "False" end
  if t == "number" then
    local s, special = number_text(v)
    return s or special
  end
  if t == "table" then -- inside a list or a map: JSON on one line
    local buf = {}
    json_value(v, nil, buf, 0)
    return concat(buf)
  end
  error("format.render: a " .. t .. " cannot be printed", 0)
end

-- A field's text: a list's items joined by ";", a map's KEY=VALUE pairs by
-- ";" in key order (gcloud's value() delimiter).
local function cell(v)
  if type(v) ~= "table" then return scalar_text(v) end
  local parts = {}
  local array, n = is_array(v)
  if array then
    for i = 1, n do parts[i] = scalar_text(v[i]) end
  else
    for i, k in ipairs(sorted_keys(v)) do parts[i] = k .. "=" .. scalar_text(v[k]) end
  end
  return concat(parts, ";")
end

local function row(spec, resource)
  local cells = {}
  for i, field in ipairs(spec.fields) do cells[i] = cell(resolve(resource, field.steps, 1)) end
  return cells
end

local function render_value(spec, resources)
  local lines = {}
  for i = 1, #resources do lines[i] = concat(row(spec, resources[i]), "\t") .. "\n" end
  return concat(lines)
end

-- Columns as wide as their widest line in characters (UTF-8), two spaces
-- apart, no trailing blanks; a cell's lines go on the lines below, as gcloud's.
local function width(s)
  return #gsub(s, "[\128-\191]", "")
end

local function render_table(spec, resources)
  if #resources == 0 then return "" end
  local labels = {}
  for i, field in ipairs(spec.fields) do labels[i] = field.label end
  local rows, widths = { labels }, {}
  for i = 1, #resources do rows[i + 1] = row(spec, resources[i]) end
  for _, r in ipairs(rows) do
    for i, text in ipairs(r) do
      local lines = {} -- a final newline ends the last line, as in gcloud's wrapping
      for line in (find(text, "\n$") and text or (text .. "\n")):gmatch("([^\n]*)\n") do
        lines[#lines + 1] = line
        if not widths[i] or width(line) > widths[i] then widths[i] = width(line) end
      end
      r[i] = lines
    end
  end
  local out, last = {}, #spec.fields
  for _, r in ipairs(rows) do
    local height = 1
    for _, lines in ipairs(r) do if #lines > height then height = #lines end end
    for k = 1, height do
      local parts = {}
      for i, lines in ipairs(r) do
        local text = lines[k] or ""
        parts[i] = i < last and (text .. pad(widths[i] - width(text))) or text
      end
      out[#out + 1] = (gsub(concat(parts, "  "), "%s+$", "")) .. "\n"
    end
  end
  return concat(out)
end

-- ---- parsing -----------------------------------------------------------------------------

local function failure(text, why)
  return nil, ("invalid --format '%s': %s; the supported forms are %s, where FIELD is a path in the "
    .. "v2 REST resource such as name, template.taskCount or conditions[0].type"):format(text, why, _M.forms)
end

-- name(.name|[N]|[-N]|[])* -> steps, or nil
local function parse_path(p)
  local steps, pos = {}, 1
  local name = match(p, "^[%w_%-]+")
  if not name then return nil end
  while name do
    steps[#steps + 1] = { key = name }
    pos = pos + #name
    while sub(p, pos, pos) == "[" do
      local index = match(p, "^%[(%-?%d*)%]", pos)
      if not index or index == "-" then return nil end
      steps[#steps + 1] = { index = tonumber(index) } -- nil: []
      pos = pos + #index + 2
    end
    if pos > #p then return steps end
    if sub(p, pos, pos) ~= "." then return nil end
    pos = pos + 1
    name = match(p, "^[%w_%-]+", pos)
  end
  return nil
end

-- gcloud's ANGRY_SNAKE_CASE of a key name: taskCount -> TASK_COUNT,
-- networkIP -> NETWORK_IP, IPAddress -> IP_ADDRESS.
local function snake(name)
  local out, i = {}, 1
  while i <= #name do
    local c = sub(name, i, i)
    local j = i
    if i > 1 and find(c, "^[A-Z]") then
      if find(sub(name, i - 1, i - 1), "^[a-z0-9]") then
        j = (find(name, "[^A-Z]", i) or #name + 1) - 1
        out[#out + 1] = "_"
      elseif find(sub(name, i + 1, i + 1), "^[a-z]") then
        out[#out + 1] = "_"
      end
    end
    out[#out + 1] = sub(name, i, j)
    i = j + 1
  end
  return upper(concat(out))
end

-- The heading gcloud makes for a key: its last name in snake case, with
-- names before it added (NAME, then SPEC_NAME) while it repeats an earlier one.
local function heading(steps, taken)
  local label = ""
  for i = #steps, 1, -1 do
    if steps[i].key then
      label = label == "" and snake(steps[i].key) or (snake(steps[i].key) .. "_" .. label)
      if not taken[label] then
        taken[label] = true
        break
      end
    end
  end
  return label
end

-- FIELD[:label=NAME] -> field, or nil, why
local function parse_field(raw, taken)
  local path, attrs = match(raw, "^%s*([^:]-)%s*(:.*)$")
  path = path or match(raw, "^%s*(.-)%s*$")
  if path == "" then return nil, "a FIELD is missing" end
  if find(path, "[\"']") then return nil, "'" .. path .. "' is not a FIELD" end
  local steps = parse_path(path)
  if not steps then return nil, "'" .. path .. "' is not a FIELD" end
  local label
  if attrs then
    local value = match(attrs, "^:%s*label%s*=%s*(.-)%s*$")
    local quote = value and match(value, "^(['\"])")
    if quote then
      label = match(value, "^" .. quote .. "([^" .. quote .. "]*)" .. quote .. "$")
    elseif value and not find(value, "[:'\"]") then
      label = value
    end
    if not label then return nil, "unsupported attribute '" .. attrs .. "' (only :label=NAME is)" end
  end
  return { path = path, steps = steps, label = label or heading(steps, taken) }
end

-- The text between a form's parentheses, split at commas outside quotes.
local function split_fields(inner)
  local fields, start, quote, depth, parens = {}, 1, nil, 0, false
  for i = 1, #inner do
    local c = sub(inner, i, i)
    if quote then
      if c == quote then quote = nil end
    elseif c == "'" or c == '"' then
      quote = c
    elseif c == "," then
      fields[#fields + 1] = sub(inner, start, i - 1)
      start = i + 1
    elseif c == "(" or c == ")" then
      depth, parens = depth + (c == "(" and 1 or -1), true
      if depth < 0 then return nil, "unbalanced parentheses" end
    end
  end
  if quote then return nil, "a quote is not closed" end
  if depth ~= 0 then return nil, "unbalanced parentheses" end
  if parens then return nil, "transforms such as basename() are not supported" end
  fields[#fields + 1] = sub(inner, start)
  return fields
end

local known = { json = true, yaml = true, value = true, table = true }

local spec_mt = { __name = "cloudrun.cli.format.spec" }

--- parse(text) -> spec | nil, message
-- spec.kind is "json", "yaml", "value" or "table"; value and table specs
-- have spec.fields, a list of { path =, label = } in order.
function _M.parse(text)
  if type(text) ~= "string" then
    error("bad argument #1 to 'parse' (string expected, got " .. type(text) .. ")", 2)
  end
  local s = match(text, "^%s*(.-)%s*$")
  if s == "json" or s == "yaml" then return setmetatable({ kind = s }, spec_mt) end
  local kind, rest = match(s, "^(%a+)%s*(%(.*)$")
  if kind ~= "value" and kind ~= "table" then
    local name = match(s, "^%a*")
    local after = match(s, "^%s*(.?)", #name + 1)
    if name == "" then return failure(text, "not a format") end
    if not known[name] then return failure(text, "unknown format '" .. name .. "'") end
    if after == "[" then return failure(text, "printer attributes in [...] are not supported") end
    if name == "value" or name == "table" then return failure(text, name .. " needs (FIELD,...)") end
    return failure(text, name .. " takes nothing after it")
  end
  if sub(rest, -1) ~= ")" then return failure(text, "missing ')'") end
  local raw, why = split_fields(sub(rest, 2, -2))
  if not raw then return failure(text, why) end
  local spec, taken = setmetatable({ kind = kind, fields = {} }, spec_mt), {}
  for i, f in ipairs(raw) do
    local field
    field, why = parse_field(f, taken)
    if not field then
      if #raw == 1 and match(f, "^%s*$") then why = kind .. "() needs at least one FIELD" end
      return failure(text, why)
    end
    spec.fields[i] = field
  end
  return spec
end

--- render(spec, value, opts) -> text
-- value: one resource, or with opts.list a Lua array of them. The whole
-- output, each line ending in "\n". An empty list prints "[]" as json and
-- nothing in the other forms, as gcloud.
function _M.render(spec, value, opts)
  if getmetatable(spec) ~= spec_mt then error("bad argument #1 to 'render' (a spec from format.parse expected)", 2) end
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #3 to 'render' (table or nil expected, got " .. type(opts) .. ")", 2)
  end
  local list = opts and opts.list
  if list and type(value) ~= "table" then
    error("bad argument #2 to 'render' (a list of resources expected, got " .. type(value) .. ")", 2)
  end
  if spec.kind == "json" then return render_json(value, list) end
  if spec.kind == "yaml" then return render_yaml(value, list) end
  local resources = value
  if not list then resources = { value } end
  if spec.kind == "value" then return render_value(spec, resources) end
  return render_table(spec, resources)
end

return _M
