--- cloudrun.regex — the regular expressions of the filter's ~ and !~: a
-- subset of Python's `re` (what gcloud's filters use), in pure Lua, which has
-- none. compile(pattern) -> a matcher | nil, message, offset.
--
-- Supported, with Python's meaning:
--   . (any character but a newline)   [abc] [a-z] [^...] (with \d \w \s inside)
--   * + ? {n} {n,} {,m} {n,m}, each also lazy (*? ...: the same yes or no)
--   | ( ) (?:...)   ^ $ \A \Z \b \B   \d \D \w \W \s \S   \t \n \r \f \v \xHH \uHHHH
--   \ before any other punctuation: the character itself; (?i) at the very start
-- Not supported (refused, naming it): backreferences, lookaround, named groups,
-- inline flags but a leading (?i), possessive quantifiers, POSIX [:classes:].
-- Characters are UTF-8 code points (a byte that is not valid UTF-8 is itself);
-- \d \w \s \b and (?i) know ASCII only. A search is unanchored, as Python's
-- re.search, and takes time linear in the subject (a Thompson NFA, no backtracking).
local byte, find, sub = string.byte, string.find, string.sub
local tonumber, error, pcall, type, ipairs = tonumber, error, pcall, type, ipairs

local _M = {}

local MAX_REPEAT = 1000 -- a count in {n,m}
local MAX_PROGRAM = 20000 -- instructions, after repeats are unrolled
local INVALID = 0x110000 -- a byte that is not UTF-8 stands for INVALID + byte

-- The code point at i and its length in bytes.
local function decode(s, i)
  local c = byte(s, i)
  if c < 0x80 then return c, 1 end
  local n, cp
  if c >= 0xC2 and c <= 0xDF then
    n, cp = 2, c - 0xC0
  elseif c >= 0xE0 and c <= 0xEF then
    n, cp = 3, c - 0xE0
  elseif c >= 0xF0 and c <= 0xF4 then
    n, cp = 4, c - 0xF0
  else
    return INVALID + c, 1
  end
  for k = i + 1, i + n - 1 do
    local b = byte(s, k)
    if not b or b < 0x80 or b > 0xBF then return INVALID + c, 1 end
    cp = cp * 64 + (b - 0x80)
  end
  return cp, n
end
_M.decode = decode

-- ---- character tests ------------------------------------------------------------

local function is_digit(cp) return cp >= 48 and cp <= 57 end
local function is_word(cp)
  return (cp >= 48 and cp <= 57) or (cp >= 65 and cp <= 90) or (cp >= 97 and cp <= 122) or cp == 95
end
local function is_space(cp) return cp == 32 or (cp >= 9 and cp <= 13) end
local CLASSES = {
  d = is_digit, w = is_word, s = is_space,
  D = function(cp) return not is_digit(cp) end,
  W = function(cp) return not is_word(cp) end,
  S = function(cp) return not is_space(cp) end,
}
local ESCAPES = { t = 9, n = 10, v = 11, f = 12, r = 13, a = 7 }
local ASSERTIONS = { A = "begin", Z = "end", b = "word", B = "nonword" }

-- The other case of an ASCII letter, or nil.
local function other_case(cp)
  if cp >= 65 and cp <= 90 then return cp + 32 end
  if cp >= 97 and cp <= 122 then return cp - 32 end
end

-- ---- parsing -----------------------------------------------------------------------

-- The parser's state: the pattern, the position, and how it fails.
local function fail(p, why, at)
  error({ regex = true, message = why, offset = at or p.i }, 0)
end

local function peek(p) return sub(p.s, p.i, p.i) end

-- \ at p.i: a class test, an assertion or a code point. Returns kind, value.
local function escape(p, in_class)
  local at = p.i
  local c = sub(p.s, p.i + 1, p.i + 1)
  if c == "" then fail(p, "a pattern cannot end with \\", at) end
  p.i = p.i + 2
  if CLASSES[c] then return "test", CLASSES[c] end
  if ESCAPES[c] then return "cp", ESCAPES[c] end
  if c == "b" and in_class then return "cp", 8 end
  if ASSERTIONS[c] and not in_class then return "assert", ASSERTIONS[c] end
  if c == "x" or c == "u" then
    local digits = c == "x" and 2 or 4
    local hex = sub(p.s, p.i, p.i + digits - 1)
    if #hex < digits or find(hex, "[^%x]") then fail(p, "\\" .. c .. " needs " .. digits .. " hex digits", at) end
    p.i = p.i + digits
    return "cp", tonumber(hex, 16)
  end
  if c == "0" then return "cp", 0 end
  if find(c, "^%d") then fail(p, "backreferences (\\" .. c .. ") are not supported", at) end
  if find(c, "^%w") then fail(p, "bad escape \\" .. c, at) end
  local cp, n = decode(p.s, p.i - 1)
  p.i = p.i - 1 + n
  return "cp", cp
end

-- One member of a [...] set: a test function, or the code point (for ranges).
local function class_member(p)
  if peek(p) == "\\" then
    local kind, v = escape(p, true)
    if kind == "test" then return v end
    return nil, v
  end
  local cp, n = decode(p.s, p.i)
  p.i = p.i + n
  return nil, cp
end

-- [...] at p.i -> a test on code points.
local function class(p)
  local at = p.i
  p.i = p.i + 1
  local negate = false
  if peek(p) == "^" then negate, p.i = true, p.i + 1 end
  if sub(p.s, p.i, p.i + 1) == "[:" and find(p.s, "^%[:%a+:%]", p.i) then
    fail(p, "POSIX classes such as [:alpha:] are not supported (use \\d, \\w, \\s or a range)")
  end
  local tests, ranges, first = {}, {}, true
  while true do
    if p.i > #p.s then fail(p, "a [ is not closed", at) end
    if peek(p) == "]" and not first then break end
    first = false
    local test, lo = class_member(p)
    if test then
      tests[#tests + 1] = test
    elseif peek(p) == "-" and sub(p.s, p.i + 1, p.i + 1) ~= "]" and p.i < #p.s then
      local dash = p.i
      p.i = p.i + 1
      local t2, hi = class_member(p)
      if t2 then fail(p, "a range cannot end in a class such as \\d", dash) end
      if hi < lo then fail(p, "the range is backwards", dash) end
      ranges[#ranges + 1] = { lo, hi }
    else
      ranges[#ranges + 1] = { lo, lo }
    end
  end
  p.i = p.i + 1
  return function(cp)
    local hit = false
    for k = 1, #ranges do
      if cp >= ranges[k][1] and cp <= ranges[k][2] then hit = true break end
    end
    if not hit then
      for k = 1, #tests do
        if tests[k](cp) then hit = true break end
      end
    end
    return hit ~= negate
  end
end

local parse_alt

-- One atom at p.i, or nil at the end of a sequence (| or ) or the end).
local function atom(p)
  local c = peek(p)
  if c == "" or c == "|" or c == ")" then return nil end
  if c == "(" then
    local at = p.i
    p.i = p.i + 1
    if peek(p) == "?" then
      if sub(p.s, p.i + 1, p.i + 1) ~= ":" then
        local what = sub(p.s, p.i, p.i + 2)
        if find(what, "^%?[=!]") or find(what, "^%?<[=!]") then
          fail(p, "lookaround (" .. what .. ") is not supported", at)
        end
        if find(what, "^%?P") or find(what, "^%?<") then fail(p, "named groups are not supported", at) end
        fail(p, "inline flags and (?...) groups other than (?:...) and a leading (?i) are not supported", at)
      end
      p.i = p.i + 2
    end
    local node = parse_alt(p)
    if peek(p) ~= ")" then fail(p, "a ( is not closed", at) end
    p.i = p.i + 1
    return { t = "group", node }
  end
  if c == "*" or c == "+" or c == "?" then fail(p, "nothing to repeat before " .. c) end
  if c == "[" then return { t = "char", test = class(p) } end
  if c == "." then
    p.i = p.i + 1
    return { t = "char", test = function(cp) return cp ~= 10 end }
  end
  if c == "^" or c == "$" then
    p.i = p.i + 1
    return { t = "assert", kind = c == "^" and "begin" or "eol" }
  end
  if c == "\\" then
    local kind, v = escape(p, false)
    if kind == "test" then return { t = "char", test = v } end
    if kind == "assert" then return { t = "assert", kind = v } end
    return { t = "char", cp = v }
  end
  local cp, n = decode(p.s, p.i)
  p.i = p.i + n
  return { t = "char", cp = cp }
end

-- A quantifier at p.i: min, max (nil: no limit), or nil when there is none.
local function quantifier(p)
  local c = peek(p)
  if c == "*" then p.i = p.i + 1 return 0, nil end
  if c == "+" then p.i = p.i + 1 return 1, nil end
  if c == "?" then p.i = p.i + 1 return 0, 1 end
  if c ~= "{" then return nil end
  local lo, comma, hi = p.s:match("^{(%d*)(,?)(%d*)}", p.i)
  if not lo or (lo == "" and hi == "") then return nil end -- a plain {, as in Python
  local at = p.i
  p.i = p.i + #lo + #comma + #hi + 2
  local min, max = tonumber(lo) or 0, tonumber(hi)
  if comma == "" then max = min end
  if min > MAX_REPEAT or (max and max > MAX_REPEAT) then
    fail(p, "a repeat count above " .. MAX_REPEAT, at)
  end
  if max and max < min then fail(p, "the repeat range is backwards", at) end
  return min, max
end

local function parse_seq(p)
  local list = {}
  while true do
    local node = atom(p)
    if not node then break end
    local min, max = quantifier(p)
    if min then
      if node.t == "assert" then fail(p, "nothing to repeat before the quantifier", p.i - 1) end
      if peek(p) == "?" then p.i = p.i + 1 end -- lazy: the same yes or no
      local c = peek(p)
      if c == "*" or c == "+" or c == "?" or (c == "{" and quantifier({ s = p.s, i = p.i })) then
        fail(p, "a quantifier cannot follow another (possessive ones are not supported)")
      end
      node = { t = "rep", node, min = min, max = max }
    end
    list[#list + 1] = node
  end
  return { t = "seq", list = list }
end

function parse_alt(p)
  local alts = { parse_seq(p) }
  while peek(p) == "|" do
    p.i = p.i + 1
    alts[#alts + 1] = parse_seq(p)
  end
  if #alts == 1 then return alts[1] end
  return { t = "alt", list = alts }
end

-- ---- compiling to a program ---------------------------------------------------------

local function emit(prog, ins)
  if #prog >= MAX_PROGRAM then
    error({ regex = true, message = "the pattern is too large once its repeats are counted", offset = 1 }, 0)
  end
  prog[#prog + 1] = ins
  return #prog
end

local function char_test(node, fold)
  local test, cp = node.test, node.cp
  if not test then
    local other = fold and other_case(cp)
    if other then return function(x) return x == cp or x == other end end
    return function(x) return x == cp end
  end
  if not fold then return test end
  return function(x)
    if test(x) then return true end
    local o = other_case(x)
    return o ~= nil and test(o)
  end
end

local function gen(prog, node, fold)
  local t = node.t
  if t == "char" then
    emit(prog, { op = "char", test = char_test(node, fold) })
  elseif t == "assert" then
    emit(prog, { op = "assert", kind = node.kind })
  elseif t == "group" then
    gen(prog, node[1], fold)
  elseif t == "seq" then
    for _, n in ipairs(node.list) do gen(prog, n, fold) end
  elseif t == "alt" then
    local jumps = {}
    for k, n in ipairs(node.list) do
      if k < #node.list then
        local split = emit(prog, { op = "split" })
        prog[split].x = split + 1
        gen(prog, n, fold)
        jumps[#jumps + 1] = emit(prog, { op = "jmp" })
        prog[split].y = #prog + 1
      else
        gen(prog, n, fold)
      end
    end
    for _, j in ipairs(jumps) do prog[j].x = #prog + 1 end
  else -- rep
    for _ = 1, node.min do gen(prog, node[1], fold) end
    if node.max == nil then
      local split = emit(prog, { op = "split" })
      prog[split].x = split + 1
      gen(prog, node[1], fold)
      emit(prog, { op = "jmp", x = split })
      prog[split].y = #prog + 1
    else
      local splits = {}
      for _ = node.min + 1, node.max do
        local split = emit(prog, { op = "split" })
        prog[split].x = split + 1
        splits[#splits + 1] = split
        gen(prog, node[1], fold)
      end
      for _, s in ipairs(splits) do prog[s].y = #prog + 1 end
    end
  end
end

-- ---- running -------------------------------------------------------------------------

local function word_at(s, i)
  local b = byte(s, i)
  return b ~= nil and is_word(b)
end

local function holds(kind, s, pos, n)
  if kind == "begin" then return pos == 1 end
  if kind == "end" then return pos == n + 1 end
  if kind == "eol" then return pos == n + 1 or (pos == n and byte(s, n) == 10) end
  local edge = word_at(s, pos - 1) ~= word_at(s, pos)
  if kind == "word" then return edge end
  return not edge
end

-- Adds the thread at pc (and what it leads to without reading) to list.
local function add(prog, list, mark, stamp, pc, s, pos, n)
  local stack = { pc }
  while #stack > 0 do
    pc = stack[#stack]
    stack[#stack] = nil
    if mark[pc] ~= stamp then
      mark[pc] = stamp
      local ins = prog[pc]
      local op = ins.op
      if op == "jmp" then
        stack[#stack + 1] = ins.x
      elseif op == "split" then
        stack[#stack + 1] = ins.y
        stack[#stack + 1] = ins.x
      elseif op == "assert" then
        if holds(ins.kind, s, pos, n) then stack[#stack + 1] = pc + 1 end
      else -- char or match
        list[#list + 1] = pc
      end
    end
  end
end

-- Whether prog matches anywhere in s.
local function search(prog, s)
  local n = #s
  local mark, stamp = {}, 1
  local cur = {}
  local pos = 1
  add(prog, cur, mark, stamp, 1, s, pos, n)
  while true do
    for k = 1, #cur do
      if prog[cur[k]].op == "match" then return true end
    end
    if pos > n then return false end
    local cp, len = decode(s, pos)
    stamp = stamp + 1
    local nxt = {}
    for k = 1, #cur do
      local ins = prog[cur[k]]
      if ins.test(cp) then add(prog, nxt, mark, stamp, cur[k] + 1, s, pos + len, n) end
    end
    pos = pos + len
    add(prog, nxt, mark, stamp, 1, s, pos, n) -- unanchored: a match may start anywhere
    cur = nxt
  end
end

--- compile(pattern) -> matcher | nil, message, offset
-- matcher(subject) -> whether the pattern matches somewhere in the subject (a
-- string). offset: the byte of the pattern where the problem is (from 1).
function _M.compile(pattern)
  if type(pattern) ~= "string" then
    error("bad argument #1 to 'compile' (string expected, got " .. type(pattern) .. ")", 2)
  end
  local p = { s = pattern, i = 1 }
  local fold = false
  if sub(pattern, 1, 4) == "(?i)" then fold, p.i = true, 5 end
  local ok, tree = pcall(function()
    local t = parse_alt(p)
    if p.i <= #pattern then fail(p, "unbalanced )") end
    local prog = {}
    gen(prog, t, fold)
    emit(prog, { op = "match" })
    return prog
  end)
  if not ok then
    if type(tree) == "table" and tree.regex then return nil, tree.message, tree.offset end
    error(tree, 0)
  end
  local prog = tree
  return function(subject) return search(prog, subject) end
end

return _M
