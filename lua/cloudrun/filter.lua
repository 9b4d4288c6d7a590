--- cloudrun.filter — gcloud's --filter language (the subset the README's table
-- lists), evaluated on the client as gcloud does, and --sort-by's keys. One
-- owner for both the CLI's flags and the each_* iterators' `filter =`.
--
--   compile(text) -> predicate(resource) -> boolean | nil, message
--   sorter(text)  -> sort(list) (in place, stable) | nil, message
--
-- A message says what and where: "expected a value after '=' at column 12".
-- The grammar is gcloud's (resource_filter.py): juxtaposed terms are ANDed
-- and bind loosest (`a b OR c` is `a AND (b OR c)`); AND and OR may not be
-- mixed in one pair of parentheses; NOT (or a leading -) negates one term.
-- A key is a path in the resource as the v2 REST API sends it (template.taskCount,
-- labels.env, conditions.type: a name on a list applies to every item).
local fields = require("cloudrun.fields")
local regex = require("cloudrun.regex")

local find, lower, sub, match, gsub = string.find, string.lower, string.sub, string.match, string.gsub
local type, tonumber, error, pcall, pairs, ipairs, select = type, tonumber, error, pcall, pairs, ipairs, select
local concat, sort = table.concat, table.sort

local values, numeric, as_number, text_of, compare = fields.values, fields.numeric, fields.as_number,
  fields.text_of, fields.compare
local STAMP, timestamp, duration, time_compare = fields.STAMP, fields.timestamp, fields.duration, fields.time_compare

local _M = {}

-- ---- errors with a column ----------------------------------------------------------

-- The column (in characters, from 1) of byte i of s.
local function column(s, i)
  local _, continuation = gsub(sub(s, 1, i - 1), "[\128-\191]", "")
  return i - continuation
end

-- Raises "what at column N[; hint]".
local function fail(p, i, what, hint)
  error({ filter = true, message = what .. " at column " .. column(p.s, i) .. (hint and ("; " .. hint) or "") }, 0)
end

-- Runs fn(...) and turns a raised filter error into nil, message.
local function protected(fn, ...)
  local ok, result = pcall(fn, ...)
  if ok then return result end
  if type(result) == "table" and result.filter then return nil, result.message end
  error(result, 0)
end

-- ---- the lexer's pieces ------------------------------------------------------------

local SPACE = "^[ \t\r\n]*"
local KEY_CHAR = "^[^ \t\r\n:=!<>~(),%.%[%]'\"]+"
local OPERATORS = { [":"] = true, ["="] = true, ["!="] = true, ["<"] = true, ["<="] = true, [">"] = true,
  [">="] = true, ["~"] = true, ["!~"] = true }
local LOGICAL = { AND = true, OR = true, NOT = true }

local function skip(p)
  p.i = p.i + #match(p.s, SPACE, p.i)
end

local function at_end(p)
  return p.i > #p.s
end

-- The keyword at p.i (AND, OR or NOT followed by a blank, a parenthesis or the end), or nil.
local function keyword(p)
  local word = match(p.s, "^%u+", p.i)
  if word and LOGICAL[word] and find(sub(p.s, p.i + #word, p.i + #word), "^[ \t\r\n()]?$") then return word end
end

-- A quoted piece at p.i ('...' or "..."): its text and the source byte of each of
-- its bytes appended to out/at. A backslash makes the quote or a backslash after
-- it plain; before anything else it is itself (gcloud's rule).
local function quoted(p, out, at)
  local q, start = sub(p.s, p.i, p.i), p.i
  p.i = p.i + 1
  while true do
    local c = sub(p.s, p.i, p.i)
    if c == "" then fail(p, start, "a " .. q .. " is not closed") end
    if c == q then
      p.i = p.i + 1
      return
    end
    local nxt = sub(p.s, p.i + 1, p.i + 1)
    if c == "\\" and (nxt == q or nxt == "\\") then p.i = p.i + 1 c = nxt end
    out[#out + 1], at[#at + 1] = c, p.i
    p.i = p.i + 1
  end
end

-- A value: quoted pieces and plain characters up to a blank or an unmatched ")"
-- (parentheses inside it nest, so name~^(a|b)$ is one value). Returns
-- { text =, at = source bytes } or nil when there is none at p.i.
local function value(p, stop_at_comma)
  local out, at, depth = {}, {}, 0
  local start = p.i
  while p.i <= #p.s do
    local c = sub(p.s, p.i, p.i)
    if find(c, "^[ \t\r\n]") or (c == ")" and depth == 0) or (stop_at_comma and c == ",") then break end
    if c == "'" or c == '"' then
      quoted(p, out, at)
    else
      local nxt = sub(p.s, p.i + 1, p.i + 1)
      if c == "\\" and (nxt == "\\" or nxt == "'" or nxt == '"') then p.i = p.i + 1 c = nxt end
      if c == "(" then depth = depth + 1 elseif c == ")" then depth = depth - 1 end
      out[#out + 1], at[#at + 1] = c, p.i
      p.i = p.i + 1
    end
  end
  if p.i == start then return nil end
  return { text = concat(out), at = at, start = start }
end

-- ---- keys ----------------------------------------------------------------------------

-- A key at p.i: name(.name|[N]|[])*, names plain or quoted. Returns its steps.
local function key(p)
  local steps = {}
  while true do
    local c = sub(p.s, p.i, p.i)
    local name
    if c == "'" or c == '"' then
      local out = {}
      quoted(p, out, {})
      name = concat(out)
    else
      name = match(p.s, KEY_CHAR, p.i)
      if not name then
        if at_end(p) then fail(p, p.i, "expected a key") end
        fail(p, p.i, "expected a key, not '" .. c .. "'")
      end
      p.i = p.i + #name
    end
    steps[#steps + 1] = { key = name }
    while sub(p.s, p.i, p.i) == "[" do
      local index = match(p.s, "^%[(%-?%d*)%]", p.i)
      if not index or index == "-" then fail(p, p.i, "expected [N] or [] in the key") end
      steps[#steps + 1] = { index = tonumber(index) }
      p.i = p.i + #index + 2
    end
    if sub(p.s, p.i, p.i) == "(" then
      fail(p, p.i, "functions such as " .. name .. "() are not supported")
    end
    if sub(p.s, p.i, p.i) ~= "." then return steps end
    p.i = p.i + 1
  end
end

-- An array as the JSON binding has it (marked, or keys exactly 1..n).
-- ---- terms -------------------------------------------------------------------------------

-- The operand of a term, made ready once: number, : pattern, regex, time.
local function operand(p, op, v)
  local o = { text = v.text, low = lower(v.text) }
  local l = o.low
  if l == "true" or l == "false" then
    o.num, o.const = l == "true" and 1 or 0, true
  else
    o.num = numeric(v.text)
  end
  if op == ":" then
    local stars = select(2, gsub(v.text, "%*", ""))
    if v.text == "*" then
      o.any = true
    elseif stars > 1 then
      fail(p, v.start, "a ':' pattern takes at most one *")
    elseif stars == 1 then
      o.prefix, o.suffix = match(l, "^(.-)%*(.*)$")
    end
  elseif op == "~" or op == "!~" then
    local m, why, offset = regex.compile(v.text)
    if not m then
      local past = v.at[#v.at] and v.at[#v.at] + 1 or v.start -- a problem at the pattern's end
      fail(p, v.at[offset] or past, "bad regular expression: " .. why)
    end
    o.re = m
  elseif op ~= "=" and op ~= "!=" then
    local secs, frac = timestamp(v.text)
    if not secs then secs, frac = duration(v.text) end
    if secs == false then fail(p, v.start, frac) end
    o.secs, o.frac = secs, frac
  end
  return o
end

-- Whether one value equals (=) or has (:) the operand, as gcloud's word match
-- (as it evaluates today): case-insensitive, the whole value for =, a part of it for :.
local function word_match(op, v, o)
  if type(v) == "table" then -- a map: any key or value
    for k, x in pairs(v) do
      if word_match(op, k, o) or (type(x) ~= "table" and word_match(op, x, o)) then return true end
    end
    return false
  end
  if o.num then
    local n = as_number(v)
    if n ~= nil then
      if n == o.num then return true end
      if not o.const then return false end
    end
  end
  if v == o.text then return true end
  if o.any then return v ~= nil and text_of(v) ~= "" end
  if v == nil and o.text == "" then return true end
  local t = v == nil and "null" or lower(text_of(v))
  if op == "=" then return t == o.low end
  if o.prefix then
    return #t >= #o.prefix + #o.suffix and sub(t, 1, #o.prefix) == o.prefix
      and (o.suffix == "" or sub(t, -#o.suffix) == o.suffix)
  end
  return find(t, o.low, 1, true) ~= nil
end

local ORDER = {
  ["<"] = function(c) return c < 0 end, ["<="] = function(c) return c <= 0 end,
  [">"] = function(c) return c > 0 end, [">="] = function(c) return c >= 0 end,
}

-- < <= > >=: as times when the value is one, as numbers when both are, else as text.
local function ordered(op, v, o)
  if type(v) == "table" then return false end
  local holds = ORDER[op]
  if type(v) == "string" and o.secs and find(v, STAMP) then
    local secs, frac = timestamp(v)
    if secs then return holds(time_compare(secs, frac, o.secs, o.frac)) end
  end
  if o.num then
    local n = as_number(v)
    if n ~= nil then return holds(n < o.num and -1 or (n > o.num and 1 or 0)) end
  end
  return holds(compare(text_of(v) or "", o.text))
end

-- Whether one value satisfies the positive form of op (= for !=, ~ for !~).
local function satisfies(op, v, o)
  if op == "=" or op == ":" or op == "!=" then return word_match(op == ":" and ":" or "=", v, o) end
  if op == "~" or op == "!~" then
    if type(v) == "table" then return false end
    return o.re(text_of(v) or "")
  end
  return ordered(op, v, o)
end

local function term_holds(node, resource)
  local vals = values(resource, node.steps)
  local any = false
  for k = 1, vals.n do
    for _, o in ipairs(node.operands) do
      if satisfies(node.op, vals[k], o) then any = true break end
    end
    if any then break end
  end
  if node.op == "!=" or node.op == "!~" then return not any end
  return any
end

-- ---- the parser ----------------------------------------------------------------------------

local expr

-- A term: ( expr ) | [-]key op value | [-]key (':'|'=') ( value ... ). nil at ')' or the end.
local function term(p)
  skip(p)
  if at_end(p) or sub(p.s, p.i, p.i) == ")" then return nil end
  local start = p.i
  if sub(p.s, p.i, p.i) == "(" then
    p.i = p.i + 1
    p.groups[#p.groups + 1] = {}
    local node = expr(p, true)
    skip(p)
    if sub(p.s, p.i, p.i) ~= ")" then fail(p, start, "missing ')' for this '('") end
    p.i = p.i + 1
    p.groups[#p.groups] = nil
    return node
  end
  local invert = sub(p.s, p.i, p.i) == "-"
  if invert then p.i = p.i + 1 end
  local word = keyword(p)
  if word then fail(p, p.i, "expected a term, not " .. word) end
  local key_at = p.i
  local steps = key(p)
  skip(p)
  local op = match(p.s, "^[:=!<>~][:=!<>~]?", p.i)
  if not op then
    local name = sub(p.s, key_at, p.i - 1):gsub("%s+$", "")
    local after = match(p.s, "^%a+", p.i) or ""
    local hint = (LOGICAL[name:upper()] or LOGICAL[after:upper()]) and "AND, OR and NOT are written in capitals"
      or "bare words (gcloud's global restrictions) are not supported"
    fail(p, p.i, "expected an operator (: = != < <= > >= ~ !~) after '" .. name .. "'", hint)
  end
  if not OPERATORS[op] then
    fail(p, p.i, "unknown operator '" .. op .. "'", "quote a value that starts with : = ! < > or ~")
  end
  local op_at = p.i
  p.i = p.i + #op
  skip(p)
  local operands = {}
  local word2 = keyword(p)
  if at_end(p) or sub(p.s, p.i, p.i) == ")" or word2 then
    fail(p, p.i, "expected a value after '" .. op .. "'" .. (word2 and (", not " .. word2) or ""),
      word2 and "quote it to mean the word")
  end
  if (op == ":" or op == "=") and sub(p.s, p.i, p.i) == "(" then
    local open = p.i
    p.i = p.i + 1
    while true do
      p.i = p.i + #match(p.s, "^[ \t\r\n,]*", p.i)
      if at_end(p) then fail(p, open, "missing ')' for this '('") end
      if sub(p.s, p.i, p.i) == ")" then break end
      local v = value(p, true)
      -- an unquoted AND, OR or NOT in a list is a reader's aid, as in gcloud: (a OR b)
      if not (LOGICAL[v.text] and v.text == sub(p.s, v.start, p.i - 1)) then
        operands[#operands + 1] = operand(p, op, v)
      end
    end
    if #operands == 0 then fail(p, open, "expected a value in the list after '" .. op .. "'") end
    p.i = p.i + 1
  else
    operands[1] = operand(p, op, value(p))
  end
  local node = { t = "term", steps = steps, op = op, operands = operands, at = op_at }
  if invert then node = { t = "not", node } end
  return node
end

local function andterm(p)
  skip(p)
  if keyword(p) == "NOT" then
    local at = p.i
    p.i = p.i + 3
    local node = term(p)
    if not node then fail(p, at, "expected a term after NOT") end
    return { t = "not", node }
  end
  return term(p)
end

-- AND or OR at p.i, noted for its parentheses group (they may not be mixed).
local function logical(p, word)
  skip(p)
  if keyword(p) ~= word then return false end
  local group = p.groups[#p.groups]
  group[word] = true
  if group.AND and group.OR then
    fail(p, p.i, "AND and OR cannot be combined without parentheses", "write (A AND B) OR C, or A AND (B OR C)")
  end
  p.i = p.i + #word
  return true
end

-- A chain of terms joined by word, right to left: AND over andterms (orterm), then OR
-- over those (adjterm), each binding looser than the one before.
local function chain(p, word, kind, each)
  local node = each(p)
  if node and logical(p, word) then
    local at = p.i
    local right = chain(p, word, kind, each)
    if not right then fail(p, at, "expected a term after " .. word) end
    node = { t = kind, node, right }
  end
  return node
end

local function orterm(p) return chain(p, "AND", "and", andterm) end
local function adjterm(p) return chain(p, "OR", "or", orterm) end

-- expr: adjterm adjterm ... (juxtaposed: AND, binding loosest).
function expr(p, must)
  local node = adjterm(p)
  if not node then
    skip(p)
    local word = keyword(p)
    if word then fail(p, p.i, "expected a term before " .. word) end
    if must then fail(p, p.i, "expected a term") end
    return nil
  end
  while true do
    skip(p)
    if at_end(p) or sub(p.s, p.i, p.i) == ")" then return node end
    local word = keyword(p)
    if word == "AND" or word == "OR" then fail(p, p.i, "expected a term before " .. word) end
    local right = adjterm(p)
    if not right then return node end
    node = { t = "and", node, right }
  end
end

local function holds(node, resource)
  local t = node.t
  if t == "term" then return term_holds(node, resource) end
  if t == "not" then return not holds(node[1], resource) end
  if t == "and" then return holds(node[1], resource) and holds(node[2], resource) end
  return holds(node[1], resource) or holds(node[2], resource)
end

local function parse(text)
  local p = { s = text, i = 1, groups = { {} } }
  local tree = expr(p, false)
  skip(p)
  if sub(p.s, p.i, p.i) == ")" then fail(p, p.i, "')' without its '('") end
  return tree
end

--- compile(text) -> predicate | nil, message
-- predicate(resource) -> true when the resource matches. An empty text matches everything.
function _M.compile(text)
  if type(text) ~= "string" then
    error("bad argument #1 to 'compile' (string expected, got " .. type(text) .. ")", 2)
  end
  local tree, err = protected(parse, text)
  if err then return nil, err end
  if not tree then return function() return true end end
  return function(resource) return holds(tree, resource) end
end

--- sorter(text) -> sort(list) | nil, message
-- text: FIELD,~FIELD,... (~: that field descending). The sort is stable; a
-- field that names a list sorts by its first item; missing values come first.
function _M.sorter(text)
  if type(text) ~= "string" then
    error("bad argument #1 to 'sorter' (string expected, got " .. type(text) .. ")", 2)
  end
  local keys, err = protected(function()
    local p, out = { s = text, i = 1 }, {}
    repeat
      skip(p)
      local descending = sub(p.s, p.i, p.i) == "~"
      if descending then p.i = p.i + 1 end
      out[#out + 1] = { steps = key(p), sign = descending and -1 or 1 }
      skip(p)
      local c = sub(p.s, p.i, p.i)
      if c ~= "," and c ~= "" then fail(p, p.i, "expected ',' or the end after a field, not '" .. c .. "'") end
      p.i = p.i + 1
    until c == ""
    return out
  end)
  if not keys then return nil, err end
  return function(list)
    local rows = {}
    for i, item in ipairs(list) do
      local row = { item = item, i = i }
      for f, field in ipairs(keys) do row[f] = values(item, field.steps)[1] end
      rows[i] = row
    end
    sort(rows, function(a, b)
      for f, field in ipairs(keys) do
        local c = fields.order(a[f], b[f]) * field.sign
        if c ~= 0 then return c < 0 end
      end
      return a.i < b.i
    end)
    for i, row in ipairs(rows) do list[i] = row.item end
    return list
  end
end

return _M
