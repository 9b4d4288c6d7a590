--- cloudrun.fields — a resource's fields as the filter (cloudrun.filter) and
-- --sort-by read them: the values a key path names, numbers and times in text,
-- and one order over every kind of value. Resources are read with plain
-- indexing, so an Execution's or Task's left-out counts read 0 (their metatable).
local core = require("cloudrun.core")

local byte, find, format, gsub, match, sub = string.byte, string.find, string.format, string.gsub, string.match,
  string.sub
local type, tostring, tonumber, pairs, next, getmetatable = type, tostring, tonumber, pairs, next, getmetatable
local floor, time = math.floor, os.time

local array_mt = core.array_mt

local _M = {}

-- ---- the values at a key -------------------------------------------------------------

-- An empty table is an empty list here: neither has a value to match.
local function is_array(t)
  if getmetatable(t) == array_mt then return true end
  local n = #t
  if n == 0 then return next(t) == nil end
  local count = 0
  for k in pairs(t) do
    if type(k) ~= "number" then return false end
    count = count + 1
  end
  return count == n
end

-- snake_case -> camelCase, for keys written as gcloud's v1 names are (task_count).
local function camel(name)
  return (gsub(name, "_(%l)", function(c) return c:upper() end))
end

-- Appends to out the values at steps[from..] of v (a name on a list applies to each item).
local function collect(v, steps, from, out)
  if from > #steps then
    if type(v) == "table" and is_array(v) then
      for k = 1, #v do out[#out + 1] = v[k] end
    else
      out[#out + 1] = v
    end
    return
  end
  if type(v) ~= "table" then
    out.missing = true
    return
  end
  local step = steps[from]
  if is_array(v) and (step.key or step.index == nil) then
    if #v == 0 then out.missing = true end
    for k = 1, #v do collect(v[k], steps, step.key and from or from + 1, out) end
    return
  end
  local x
  if step.key then
    x = v[step.key]
    if x == nil and find(step.key, "_") then x = v[camel(step.key)] end
  elseif is_array(v) then
    x = v[step.index >= 0 and step.index + 1 or #v + step.index + 1]
  end
  if x == nil then
    out.missing = true
    return
  end
  collect(x, steps, from + 1, out)
end

-- The values a key names in resource: a list (empty for an empty list), with
-- nil standing for a missing field (as gcloud's None).
local function values(resource, steps)
  local out = {}
  collect(resource, steps, 1, out)
  if #out == 0 and out.missing then return { n = 1 } end
  out.n = #out
  return out
end

-- ---- scalars ---------------------------------------------------------------------------

local NUMBER = "^[+-]?%d+%.?%d*[eE]?[+-]?%d*$"
local FRACTION = "^[+-]?%.%d+[eE]?[+-]?%d*$"

-- A number in text as Python's int() or float() reads it, or nil.
local function numeric(text)
  if find(text, NUMBER) or find(text, FRACTION) then return tonumber(text) end
end

-- A value as a number, when it is one (true and false are 1 and 0), or nil.
local function as_number(v)
  local t = type(v)
  if t == "number" then return v end
  if t == "boolean" then return v and 1 or 0 end
  if t == "string" then return numeric(v) end
end

local function text_of(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "nil" then return nil end
  if t == "number" then
    if v == floor(v) and v > -2 ^ 53 and v < 2 ^ 53 then return format("%d", v) end
    return tostring(v)
  end
  if t == "boolean" then return v and "true" or "false" end
end

-- Byte order (code point order for UTF-8), unlike `<` not the C locale's.
local function compare(a, b)
  if a == b then return 0 end
  local n = #a < #b and #a or #b
  for i = 1, n do
    local x, y = byte(a, i), byte(b, i)
    if x ~= y then return x < y and -1 or 1 end
  end
  return #a < #b and -1 or 1
end

-- ---- times -------------------------------------------------------------------------------

-- Days from 1970-01-01 to a civil date (proleptic Gregorian).
local function days(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local STAMP = "^%d%d%d%d%-%d%d%-%d%d[Tt ]%d%d:%d%d:%d%d"

-- RFC 3339 (or a date alone, or minutes without seconds) -> seconds, fraction | nil.
-- Without a zone it is UTC.
local function timestamp(s)
  local y, mo, d, rest = match(s, "^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then return nil end
  local h, mi, se, frac, zone = 0, 0, 0, "", ""
  if rest ~= "" then
    h, mi, se, frac, zone = match(rest, "^[Tt ](%d%d):(%d%d):?(%d*)(%.?%d*)(.*)$")
    if not h or #se == 1 or (se == "" and frac ~= "") or frac == "." then return nil end
  end
  local offset = 0
  if zone ~= "" and zone ~= "Z" and zone ~= "z" then
    local sign, zh, zm = match(zone, "^([+-])(%d%d):?(%d%d)$")
    if not sign then return nil end
    offset = (tonumber(zh) * 60 + tonumber(zm)) * 60 * (sign == "-" and -1 or 1)
  end
  local secs = days(tonumber(y), tonumber(mo), tonumber(d)) * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60
    + (tonumber(se) or 0) - offset
  return secs, tonumber("0" .. frac) or 0
end

-- An ISO 8601 duration from now ("-P1D": a day ago; W, D, H, M, S) -> seconds, 0 | nil,
-- or false and why when it looks like one but is not.
local UNITS = { W = 604800, D = 86400, H = 3600, M = 60, S = 1 }
local function duration(s)
  local sign, body = match(s, "^([+-]?)[Pp](.*)$")
  if not sign or not find(body, "^[Tt]?%d") then return nil end
  local total, in_time = 0, false
  local i = 1
  while i <= #body do
    local c = sub(body, i, i):upper()
    if c == "T" and not in_time then
      in_time, i = true, i + 1
    else
      local n, unit = match(body, "^(%d+%.?%d*)(%a)", i)
      if not n then return false, "a duration is P[nW][nD][T[nH][nM][nS]], e.g. -P1D or -PT2H" end
      unit = unit:upper()
      if unit == "Y" or (unit == "M" and not in_time) then
        return false, "durations in years or months are not supported (use W, D, H, M, S)"
      end
      if not UNITS[unit] or (in_time and (unit == "W" or unit == "D")) or (not in_time and UNITS[unit] < 86400) then
        return false, "a duration is P[nW][nD][T[nH][nM][nS]], e.g. -P1D or -PT2H"
      end
      total = total + tonumber(n) * UNITS[unit]
      i = i + #n + 1
    end
  end
  return time() + (sign == "-" and -total or total), 0
end

local function time_compare(s1, f1, s2, f2)
  if s1 ~= s2 then return s1 < s2 and -1 or 1 end
  if f1 ~= f2 then return f1 < f2 and -1 or 1 end
  return 0
end


-- ---- one order over every kind of value (--sort-by) ----------------------------------------

-- A value's place in the order: missing, booleans, numbers, times, text, the rest.
local function rank(v)
  local t = type(v)
  if t == "nil" then return 0 end
  if t == "boolean" then return 1, v and 1 or 0 end
  if t == "number" then return 2, v end
  if t == "string" then
    if find(v, STAMP) then
      local secs, frac = timestamp(v)
      if secs then return 3, secs, frac end
    end
    return 4, v
  end
  return 5
end

local function order(a, b)
  local ra, a1, a2 = rank(a)
  local rb, b1, b2 = rank(b)
  if ra ~= rb then return ra < rb and -1 or 1 end
  if ra == 4 then return compare(a1, b1) end
  if ra == 3 then return time_compare(a1, a2, b1, b2) end
  if ra == 0 or ra == 5 or a1 == b1 then return 0 end
  return a1 < b1 and -1 or 1
end

_M.is_array, _M.values, _M.numeric, _M.as_number, _M.text_of, _M.compare = is_array, values, numeric, as_number,
  text_of, compare
_M.STAMP, _M.timestamp, _M.duration, _M.time_compare, _M.order = STAMP, timestamp, duration, time_compare, order

return _M
