-- An answer is read from its text straight into tables (the client's methods)
-- and must come out as the same value cJSON's tree gave (run_jobs, which still
-- builds the tree, and cloudrun.json.decode): the values, the array
-- metatable, `#` of an array with a null in it, the order pairs gives, the
-- "execution" a RunJob gets, and the errors. The answers (cr-hostile serves
-- them from files) are written to be awkward: escapes, NULs, duplicate keys,
-- nulls, deep nesting, numbers cJSON reads its own way, a byte order mark,
-- bytes after the value, and sizes past what a Lua stack holds.
local cloudrun = require("cloudrun")
local h = require("helpers")

local HOSTILE = assert(os.getenv("CR_HOSTILE"), "CR_HOSTILE: the cr-hostile binary")

local EXEC = "projects/p/locations/r/jobs/j/executions/j-abc"
local OP_TAIL = '"done":false}'

-- name, text, { big = true }: past the stack (the order pairs gives may then differ; values may not)
local cases = {
  { "an operation", '{"name":"projects/p/locations/r/operations/1","metadata":{"@type":"x","name":"' .. EXEC
    .. '","taskCount":1,"template":{"containers":[{"args":["--id=42"],"env":[{"name":"ID","value":"42"}]}]},'
    .. '"conditions":[{"type":"Completed","state":"CONDITION_PENDING"}],"reconciling":true,'
    .. '"etag":"\\"78fd73aea4bfc4ab\\""},' .. OP_TAIL },
  { "escapes in keys and values", '{"q\\"k":"a\\"b","bs":"\\\\","sl":"\\/","ctl":"\\b\\f\\n\\r\\t",'
    .. '"u":"caf\\u00e9 \\u20ac \\ud83d\\ude00","k\\u00e9y":1,"raw":"caf\195\169"}' },
  { "a NUL ends a string, as in cJSON", '{"n":"ab\\u0000cd","bad":"x\\u12G4y","k\\u0000z":1,"raw":"a\0b"}' },
  { "duplicate keys: the last one stays", '{"a":1,"a":2,"b":{"c":1},"b":null,"d":null,"d":3}' },
  { "nulls in arrays", '{"a":[1,null,3],"b":[null],"c":[null,null,5],"d":[1,2,null],"e":[],"f":{}}' },
  { "numbers as cJSON reads them", '{"i":0,"neg0":-0,"f":1.5,"e":1e3,"E":1E+2,"big":9007199254740993,'
    .. '"nbig":-9007199254740992,"inf":1e400,"tenth":0.1,"huge":123456789012345678901234567890,'
    .. '"lead":01,"one":1.0,"dot":1.}' },
  { "booleans and null", '{"t":true,"f":false,"n":null,"arr":[true,false,null]}' },
  { "deeper than 200: nil", '{"deep":' .. ("["):rep(205) .. "1" .. ("]"):rep(205) .. ',"after":1}' },
  { "a byte order mark", "\239\187\191" .. '{"bom":1}' },
  { "what follows the value is not read", '{"a":1} trailing garbage' },
  { "control bytes count as space", '\1{\2"a"\31:\0 1 }' },
  { "a RunJob whose metadata is named twice", '{"metadata":{"name":"' .. EXEC .. '1"},"metadata":{"name":"'
    .. EXEC .. '2"},' .. OP_TAIL },
  { "a RunJob that has its execution already", '{"execution":null,"metadata":{"name":"' .. EXEC .. '"},'
    .. OP_TAIL },
  { "a RunJob whose execution is in response", '{"metadata":{"name":"x"},"response":{"name":"' .. EXEC .. '"},'
    .. OP_TAIL },
  { "a RunJob whose first name is not a string", '{"metadata":{"name":1,"name":"' .. EXEC .. '"},' .. OP_TAIL },
  { "a RunJob whose metadata is not an object", '{"metadata":"' .. EXEC .. '","response":[{"name":"' .. EXEC
    .. '"}],' .. OP_TAIL },
  { "escaped keys that name metadata", '{"m\\u0065tadata":{"na\\u006de\\u0000x":"' .. EXEC .. '"},' .. OP_TAIL },
  -- past the stack of every Lua (a million slots on 5.4; 8,000 on 5.1 and LuaJIT), with objects
  -- open below the array when it overflows
  { "an array of a million inside open objects", '{"o":{' .. (function()
      local t = {}
      for i = 1, 100 do t[i] = '"k' .. i .. '":' .. i end
      return table.concat(t, ",")
    end)() .. ',"a":[' .. ("0,"):rep(1100000) .. '1],"z":null,"y":2},"after":[1,null,3]}', { big = true } },
  { "an object of a hundred thousand", "{" .. (function()
      local t = {}
      for i = 1, 100000 do t[i] = '"k' .. i .. '":' .. i end
      return table.concat(t, ",")
    end)() .. "}", { big = true } },
  -- not objects, or not JSON: errors
  { "an array", "[1,2]" },
  { "a string", '"s"' },
  { "a missing value", '{"a":}' },
  { "a missing colon", '{"a" 1}' },
  { "a bad literal", '{"a":tru}' },
  { "an unfinished string", '{"a":"b' },
  { "an unknown escape", '{"a":"\\x"}' },
  { "a lone low surrogate", '{"a":"\\udc00"}' },
  { "a high surrogate alone", '{"a":"\\ud800x"}' },
  { "nesting past cJSON's limit", '{"a":' .. ("["):rep(1001) .. ("]"):rep(1001) .. "}" },
  { "a trailing comma", '{"a":1,}' },
  { "only a byte order mark", "\239\187\191{}" },
}

local math_type = math.type or function() return "number" end

-- The keys of t in the order pairs gives them.
local function keys_of(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  return ks
end

-- a and b alike to the bottom; `at` is the path so far (a list, joined only for a message)
local function same(a, b, at, loose)
  local function fail(what)
    local parts = {}
    for i, k in ipairs(at) do parts[i] = tostring(k) end
    error(table.concat(parts, ".") .. ": " .. what, 0)
  end
  if type(a) ~= type(b) then fail(type(a) .. " against " .. type(b)) end
  if type(a) == "number" then
    if a ~= b or math_type(a) ~= math_type(b) then fail(tostring(a) .. " against " .. tostring(b)) end
  elseif type(a) ~= "table" then
    if a ~= b then fail(tostring(a) .. " against " .. tostring(b)) end
  else
    if getmetatable(a) ~= getmetatable(b) then fail("not the same metatable") end
    if #a ~= #b then fail("# " .. #a .. " against " .. #b) end
    local ka, kb = keys_of(a), keys_of(b)
    if #ka ~= #kb then fail(#ka .. " keys against " .. #kb) end
    for i, k in ipairs(ka) do
      if not loose and k ~= kb[i] then fail("pairs gives " .. tostring(k) .. " where it gave " .. tostring(kb[i])) end
      local va, vb = a[k], b[k]
      if type(va) == "table" or va ~= vb or math_type(va) ~= math_type(vb) then
        at[#at + 1] = k
        same(va, vb, at, loose)
        at[#at] = nil
      end
    end
  end
end

describe("an answer read from its text", function()
  local dir, server, client

  setup(function()
    dir = h.tmpdir()
    for i, case in ipairs(cases) do h.write(dir .. "/" .. i, case[2]) end
    local s = h.spawn(("%s --port 0 --answers %s"):format(h.sh_quote(HOSTILE), h.sh_quote(dir)),
      "^hostile listening on 127%.0%.0%.1:(%d+)$")
    server = { stop = function() h.stop(s.pid, s.pipe) end }
    client = assert(cloudrun.client{ project = "p", region = "r", endpoint = "http://127.0.0.1:" .. s.match,
      credentials = false, retry = { attempts = 1 } })
  end)

  teardown(function()
    if server then server.stop() end
    os.execute("rm -rf " .. h.sh_quote(dir))
  end)

  -- cloudrun.json.decode keeps a NUL inside a string (Lua strings may hold
  -- one); an answer's strings end at it, as cJSON's do: compared cut there,
  -- in place (a table made anew would change what pairs gives). Says whether
  -- a key was cut (its table's pairs order is then not compared).
  local function cut_at_nul(v)
    if type(v) == "string" then
      local at = v:find("\0", 1, true)
      return at and v:sub(1, at - 1) or v, false
    end
    if type(v) ~= "table" then return v, false end
    local moved, renamed = {}, false
    for k, x in pairs(v) do
      local cut, r = cut_at_nul(x)
      renamed = renamed or r
      if cut ~= x then v[k] = cut end
      if type(k) == "string" and k:find("\0", 1, true) then moved[#moved + 1] = k end
    end
    for _, k in ipairs(moved) do
      local x = v[k]
      v[k] = nil
      v[(cut_at_nul(k))] = x
    end
    return v, renamed or #moved > 0
  end

  for i, case in ipairs(cases) do
    it("is what cJSON's tree gives: " .. case[1], function()
      local loose = case[3] and case[3].big
      local job = "file-" .. i
      -- a RunJob, against run_jobs (the tree, "execution" added by the core from it)
      local op, err = client:run_job(job)
      local tree = client:run_jobs({ { job = job } })[1]
      if cloudrun.is_error(tree) then
        assert.is_nil(op)
        assert.are.equal(tree.code, err.code)
        assert.are.equal(tree.message, err.message)
      else
        assert(op, err)
        same(op, tree, { "op" }, loose)
      end
      -- a read, against cloudrun.json.decode of the same text
      local got, gerr = client:get_job(job)
      local decoded, renamed = cut_at_nul(cloudrun.json.decode(case[2]))
      if type(decoded) == "table" and getmetatable(decoded) == nil then
        assert(got, gerr)
        same(got, decoded, { "job" }, loose or renamed)
      else
        assert.is_nil(got)
        assert.are.equal("UNKNOWN", gerr.code)
        assert.matches("is not a JSON object", gerr.message, 1, true)
      end
    end)
  end

  -- The collector may run finalizers while a big answer is being read: they
  -- need stack of their own (Lua 5.2 raised "stack overflow" when the reader
  -- had filled the stack to Lua's limit).
  it("leaves stack for finalizers that run while a big answer is read", function()
    local big
    for i, case in ipairs(cases) do
      if case[1]:find("million", 1, true) then big = i end
    end
    local ran, failures = 0, {}
    local function deep(n) if n > 0 then return 1 + deep(n - 1) end return 0 end
    local function finalizer()
      local ok, e = pcall(deep, 150)
      ran = ran + 1
      if not ok then failures[#failures + 1] = tostring(e) end
    end
    local make = newproxy and function()
      local p = newproxy(true)
      getmetatable(p).__gc = finalizer
    end or function() setmetatable({}, { __gc = finalizer }) end
    for _ = 1, 3 do
      for _ = 1, 20000 do make() end -- garbage with finalizers, collected while the answer is read
      local op, err = client:run_job("file-" .. big)
      assert(op, err and err.message)
      assert.are.equal(1100001, #op.o.a)
    end
    collectgarbage()
    assert.are.same({}, failures)
    assert.is_true(ran > 0)
  end)
end)
