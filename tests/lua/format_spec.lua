-- cloudrun.cli.format: gcloud's --format forms (json, yaml, value(), table())
-- on single resources and lists, against exact text; json read back with the
-- module's own decoder, yaml with libyaml's (lyaml, which busted's Debian
-- package brings for every Lua).
local format = require("cloudrun.cli.format")
local cloudrun = require("cloudrun")
local core = require("cloudrun.core")
local lyaml = require("lyaml")

local FORMS = "json, yaml, value(FIELD,...), table(FIELD[:label=NAME],...)"

local function array(t)
  return setmetatable(t, core.array_mt)
end

-- A value as a test's name shows it: quoted, control characters as \ddd.
local function show(v)
  if type(v) ~= "string" then return tostring(v) end
  local q = ("%q"):format(tostring(v)):gsub("\\\n", "\\n")
  return (q:gsub("%c", function(c) return "\\" .. c:byte() end))
end

local function render(text, value, list)
  return format.render(assert(format.parse(text)), value, { list = list })
end

-- A Job as the v2 API sends it (int64 as strings, empty lists and maps).
local JOB = [[{
  "name": "projects/p/locations/europe-west1/jobs/nightly",
  "uid": "0b7c3a52-5f0e-4b8e-9c1a-2f8e6d4f1a77",
  "generation": "3",
  "labels": {"team": "data", "env": "prod"},
  "annotations": {},
  "createTime": "2026-11-02T08:00:00.123456Z",
  "creator": "someone@example.com",
  "launchStage": "GA",
  "template": {
    "taskCount": 4,
    "parallelism": 2,
    "template": {
      "containers": [{
        "image": "europe-docker.pkg.dev/p/r/nightly:1.2",
        "command": ["/bin/sh", "-c", "set -e\nrun --all\n"],
        "args": [],
        "env": [{"name": "MODE", "value": "yes"}, {"name": "LIMIT", "value": "0x10"}],
        "resources": {"limits": {"cpu": "1", "memory": "512Mi"}}
      }],
      "timeout": "600s",
      "maxRetries": 3,
      "executionEnvironment": "EXECUTION_ENVIRONMENT_GEN2"
    }
  },
  "observedGeneration": "3",
  "terminalCondition": {"type": "Ready", "state": "CONDITION_SUCCEEDED", "lastTransitionTime": "2026-11-02T08:00:01Z"},
  "conditions": [],
  "executionCount": 12,
  "latestCreatedExecution": {"name": "projects/p/locations/europe-west1/jobs/nightly/executions/nightly-x2k9q",
    "createTime": "2026-11-30T02:00:00Z", "completionStatus": "EXECUTION_SUCCEEDED"},
  "reconciling": false,
  "etag": "\"a1b2\""
}]]

local function job()
  return assert(cloudrun.json.decode(JOB))
end

describe("format.parse", function()
  local accepted = {
    -- text, kind, { { path, label }, ... }
    { "json", "json" },
    { "  yaml ", "yaml" },
    { "value(name)", "value", { { "name", "NAME" } } },
    { "value( name , template.taskCount )", "value", { { "name", "NAME" }, { "template.taskCount", "TASK_COUNT" } } },
    { "table(name,status)", "table", { { "name", "NAME" }, { "status", "STATUS" } } },
    { "table(latestCreatedExecution.name,template.template.containers[0].image,args[-1],items[].id)", "table",
      { { "latestCreatedExecution.name", "NAME" }, { "template.template.containers[0].image", "IMAGE" },
        { "args[-1]", "ARGS" }, { "items[].id", "ID" } } },
    { "table(metadata.name,spec.name,name)", "table",
      { { "metadata.name", "NAME" }, { "spec.name", "SPEC_NAME" }, { "name", "NAME" } } },
    { "table(networkIP,IPAddress,HTTPServer,task2Count,my-label)", "table",
      { { "networkIP", "NETWORK_IP" }, { "IPAddress", "IP_ADDRESS" }, { "HTTPServer", "HTTP_SERVER" },
        { "task2Count", "TASK2_COUNT" }, { "my-label", "MY-LABEL" } } },
    { "table(name:label=JOB, conditions[0].type:label='LAST STATE', uid:label=\"A, B (c)\", etag:label=)", "table",
      { { "name", "JOB" }, { "conditions[0].type", "LAST STATE" }, { "uid", "A, B (c)" }, { "etag", "" } } },
    { "value(name:label=ignored)", "value", { { "name", "ignored" } } },
  }
  for _, case in ipairs(accepted) do
    it("reads " .. case[1], function()
      local spec, err = format.parse(case[1])
      assert.is_nil(err)
      assert.are.equal(case[2], spec.kind)
      local fields = {}
      for i, f in ipairs(spec.fields or {}) do fields[i] = { f.path, f.label } end
      assert.are.same(case[3] or {}, fields)
    end)
  end

  local refused = {
    -- text, what the message says besides the supported forms
    { "csv", "unknown format 'csv'" },
    { "text", "unknown format 'text'" },
    { "flattened", "unknown format 'flattened'" },
    { "", "not a format" },
    { "(name)", "not a format" },
    { "JSON", "unknown format 'JSON'" },
    { "json(name)", "json takes nothing after it" },
    { "yaml extra", "yaml takes nothing after it" },
    { "value", "value needs (FIELD,...)" },
    { "table", "table needs (FIELD,...)" },
    { "table[box](name)", "printer attributes in [...] are not supported" },
    { "value()", "value() needs at least one FIELD" },
    { "table( )", "table() needs at least one FIELD" },
    { "value(name", "missing ')'" },
    { "value(name))", "unbalanced parentheses" },
    { "value((name)", "unbalanced parentheses" },
    { "value(name.basename())", "transforms such as basename() are not supported" },
    { "value(name,)", "a FIELD is missing" },
    { "value(,name)", "a FIELD is missing" },
    { "value(a..b)", "'a..b' is not a FIELD" },
    { "value(.a)", "'.a' is not a FIELD" },
    { "value(a.)", "'a.' is not a FIELD" },
    { "value(a[x])", "'a[x]' is not a FIELD" },
    { "value(a[)", "'a[' is not a FIELD" },
    { "value(a[-])", "'a[-]' is not a FIELD" },
    { "value(a b)", "'a b' is not a FIELD" },
    { "value(\"name\")", "'\"name\"' is not a FIELD" },
    { "table(name:sort=1)", "unsupported attribute ':sort=1' (only :label=NAME is)" },
    { "table(name:label=X:sort=1)", "unsupported attribute ':label=X:sort=1'" },
    { "table(name:label='X)", "a quote is not closed" },
    { "table(name:label='X'Y)", "unsupported attribute" },
  }
  for _, case in ipairs(refused) do
    it("refuses " .. case[1] .. ", naming the supported forms", function()
      local spec, err = format.parse(case[1])
      assert.is_nil(spec)
      assert.is_string(err)
      assert.matches("invalid --format '" .. case[1] .. "'", err, 1, true)
      assert.matches(case[2], err, 1, true)
      assert.matches(FORMS, err, 1, true)
      assert.matches("v2 REST", err, 1, true)
    end)
  end

  it("raises for an argument that is not a string", function()
    local ok, err = pcall(format.parse, nil)
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'parse' (string expected, got nil)", err, 1, true)
  end)
end)

describe("format.render", function()
  it("raises for a spec that parse did not make, bad options or a list that is not a table", function()
    local spec = assert(format.parse("json"))
    assert.has_error(function() format.render({ kind = "json" }, {}) end)
    assert.has_error(function() format.render(spec, {}, "list") end)
    assert.has_error(function() format.render(spec, "x", { list = true }) end)
    assert.has_error(function() format.render(spec, { [true] = 1 }) end,
      "format.render: a table with a boolean key cannot be printed as an object")
    assert.has_error(function() format.render(spec, { f = print }) end, "format.render: a function cannot be printed")
    local loop = {}
    loop.self = loop
    assert.has_error(function() format.render(spec, loop) end,
      "format.render: the value is nested too deeply (a cycle?)")
  end)
end)

describe("--format=json", function()
  local cases = {
    -- name, value, list, expected
    { "an object, keys sorted, arrays in order", { b = 1, a = { z = array{ 3, 1, 2 }, y = "s" } }, false,
      '{\n  "a": {\n    "y": "s",\n    "z": [\n      3,\n      1,\n      2\n    ]\n  },\n  "b": 1\n}\n' },
    { "empty collections", { m = {}, l = array{}, n = { {} } }, false,
      '{\n  "l": [],\n  "m": {},\n  "n": [\n    {}\n  ]\n}\n' },
    { "an empty resource", {}, false, "{}\n" },
    { "an empty list", {}, true, "[]\n" },
    { "an empty list marked as one", array{}, true, "[]\n" },
    { "a list", { { name = "a" }, { name = "b", n = 2 } }, true,
      '[\n  {\n    "name": "a"\n  },\n  {\n    "n": 2,\n    "name": "b"\n  }\n]\n' },
    { "keys in byte order (code points)", { ["é"] = 1, z = 2, Z = 3, _ = 4, a1 = 5, a = 6 }, false,
      '{\n  "Z": 3,\n  "_": 4,\n  "a": 6,\n  "a1": 5,\n  "z": 2,\n  "é": 1\n}\n' },
    { "numbers", array{ 3, 0, -7, 2 ^ 53, 0.1, 1.5e-7, 1e20, -2.5, 3.0 }, false,
      "[\n  3,\n  0,\n  -7,\n  9007199254740992,\n  0.1,\n  1.5e-07,\n  1e+20,\n  -2.5,\n  3\n]\n" },
    { "int64 strings stay strings", { generation = "9007199254740993" }, false,
      '{\n  "generation": "9007199254740993"\n}\n' },
    { "booleans", { t = true, f = false }, false, '{\n  "f": false,\n  "t": true\n}\n' },
  }
  for _, case in ipairs(cases) do
    it("prints " .. case[1], function()
      assert.are.equal(case[4], render("json", case[2], case[3]))
    end)
  end

  local strings = {
    { "plain", '"plain"' },
    { 'quote " and backslash \\', '"quote \\" and backslash \\\\"' },
    { "a/b", '"a/b"' },
    { "line\nbreak\r\ttab\b\f", '"line\\nbreak\\r\\ttab\\b\\f"' },
    { "\1\31", '"\\u0001\\u001f"' },
    { "del\127", '"del\127"' },
    { "é ü 日本 \226\128\168", '"é ü 日本 \226\128\168"' },
  }
  for _, case in ipairs(strings) do
    it("escapes " .. show(case[1]) .. " as JSON requires", function()
      assert.are.equal(case[2] .. "\n", render("json", case[1]))
      assert.are.equal(case[1], cloudrun.json.decode('["' .. case[2]:sub(2, -2) .. '"]')[1])
    end)
  end

  it("escapes NUL as \\u0000", function()
    assert.are.equal('"a\\u0000b"\n', render("json", "a\0b"))
  end)

  it("prints the same text for the same value, however its tables were filled", function()
    local a, b = {}, {}
    for i = 1, 50 do a["k" .. i] = i end
    for i = 50, 1, -1 do b["k" .. i] = i end
    assert.are.equal(render("json", a), render("json", b))
  end)

  it("prints a decoded API resource that decodes back to the same value, arrays still arrays", function()
    local text = render("json", job())
    local back = assert(cloudrun.json.decode(text))
    assert.are.same(job(), back)
    assert.are.equal(core.array_mt, getmetatable(back.conditions))
    assert.are.equal(core.array_mt, getmetatable(back.template.template.containers[1].args))
    assert.is_nil(next(back.annotations))
    assert.is_nil(getmetatable(back.annotations))
    assert.are.equal("3", back.generation)
    assert.are.equal(text, render("json", back))
  end)

  it("prints a list of decoded resources as an array that decodes back", function()
    local list = { job(), job() }
    list[2].name = "other"
    local back = assert(cloudrun.json.decode(render("json", list, true)))
    assert.are.same(list, back)
    assert.is_nil(getmetatable(list)) -- the caller's table is left as it was
  end)
end)

describe("--format=yaml", function()
  it("prints a resource in block style, keys sorted, sequences under their key", function()
    local value = { name = "j", template = { taskCount = 2, containers = array{ { image = "x", args = array{ "a", "b" } } } },
      labels = {}, args = array{}, nested = array{ array{ 1, 2 }, array{} }, ok = true, ratio = 0.5 }
    assert.are.equal(table.concat({
      "args: []",
      "labels: {}",
      "name: j",
      "nested:",
      "- - 1",
      "  - 2",
      "- []",
      "ok: true",
      "ratio: 0.5",
      "template:",
      "  containers:",
      "  - args:",
      "    - a",
      "    - b",
      "    image: x",
      "  taskCount: 2",
      "",
    }, "\n"), render("yaml", value))
  end)

  it("prints a list as one document per resource, each after ---", function()
    assert.are.equal("---\nname: a\n---\nname: b\nx: 2\n", render("yaml", { { name = "a" }, { name = "b", x = 2 } }, true))
    assert.are.equal("---\n{}\n", render("yaml", { {} }, true))
  end)

  it("prints nothing for an empty list, {} for an empty resource", function()
    assert.are.equal("", render("yaml", {}, true))
    assert.are.equal("{}\n", render("yaml", {}))
  end)

  local scalars = {
    -- value, how it prints
    { "plain text", "plain text" },
    { "600s", "600s" },
    { "v1.2", "v1.2" },
    { "--flag", "--flag" },
    { "projects/p/locations/r/jobs/j", "projects/p/locations/r/jobs/j" },
    { "a:b#c", "a:b#c" },
    { "é", "é" },
    { "", "''" },
    { " lead", "' lead'" },
    { "trail ", "'trail '" },
    { "yes", "'yes'" },
    { "No", "'No'" },
    { "on", "'on'" },
    { "y", "'y'" },
    { "N", "'N'" }, -- a YAML 1.1 boolean (go-yaml v2 reads it so)
    { "true", "'true'" },
    { "FALSE", "'FALSE'" },
    { "null", "'null'" },
    { "~", "'~'" },
    { "12", "'12'" },
    { "-1", "'-1'" },
    { "+1", "'+1'" },
    { "1.5", "'1.5'" },
    { ".5", "'.5'" },
    { "1e3", "'1e3'" },
    { "0x1F", "'0x1F'" },
    { "0o17", "'0o17'" },
    { "012", "'012'" },
    { "1_000", "'1_000'" },
    { "1:30", "'1:30'" },
    { ".inf", "'.inf'" },
    { "-.Inf", "'-.Inf'" },
    { ".NaN", "'.NaN'" },
    { "2026-11-30", "'2026-11-30'" },
    { "2026-11-30T02:00:00.123456Z", "'2026-11-30T02:00:00.123456Z'" },
    { "=", "'='" },
    { "<<", "'<<'" },
    { "a: b", "'a: b'" },
    { "ends:", "'ends:'" },
    { "a #comment", "'a #comment'" },
    { "#x", "'#x'" },
    { "-", "'-'" },
    { "- x", "'- x'" },
    { "? x", "'? x'" },
    { ": x", "': x'" },
    { "---", "'---'" },
    { "...", "'...'" },
    { "&a", "'&a'" },
    { "*a", "'*a'" },
    { "!a", "'!a'" },
    { "|a", "'|a'" },
    { ">a", "'>a'" },
    { "%a", "'%a'" },
    { "@a", "'@a'" },
    { "`a", "'`a'" },
    { "[a]", "'[a]'" },
    { "{a}", "'{a}'" },
    { ",a", "',a'" },
    { "'a'", "'''a'''" },
    { '"a"', "'\"a\"'" },
    { "it's", "it's" },
    { "tab\there", '"tab\\there"' },
    { "cr\r", '"cr\\r"' },
    { "nul\0", '"nul\\0"' },
    { "bell\7 esc\27 del\127", '"bell\\a esc\\e del\\x7F"' },
    { "c1\194\128 nel\194\133 ls\226\128\168 ps\226\128\169 bom\239\187\191", '"c1\\x80 nel\\N ls\\L ps\\P bom\\uFEFF"' },
    { 'both \' and " and \\ and \t', '"both \' and \\" and \\\\ and \\t"' },
    -- multi-line values: literal blocks, as gcloud prints them
    { "a\nb", "|-\n  a\n  b" },
    { "a\nb\n", "|\n  a\n  b" },
    { "a\nb\n\n", "|+\n  a\n  b\n" },
    { "a\n\n  b", "|-\n  a\n\n    b" },
    { "# not\n- a comment", "|-\n  # not\n  - a comment" },
    -- ...unless a block cannot hold them as they are
    { "\nlead", '"\\nlead"' },
    { " lead\nx", '" lead\\nx"' },
    { "trail \nx", '"trail \\nx"' },
    { "x\ntrail ", '"x\\ntrail "' },
    { "tab\n\tx", '"tab\\n\\tx"' },
    -- other scalars
    { 3, "3" },
    { -7, "-7" },
    { 0.25, "0.25" },
    { 1e20, "1.0e+20" },
    { 1.5e-7, "1.5e-07" },
    { 0 / 0, ".nan" },
    { math.huge, ".inf" },
    { -math.huge, "-.inf" },
    { true, "true" },
    { false, "false" },
  }
  for _, case in ipairs(scalars) do
    it("prints " .. show(case[1]) .. " as " .. show(case[2]), function()
      local text = render("yaml", { k = case[1] })
      assert.are.equal("k: " .. case[2] .. "\n", text)
      -- libyaml's strings end at a NUL, and lyaml takes even a quoted '<<' key for a merge
      if type(case[1]) == "string" and case[1]:find("%z") then return end
      local back = lyaml.load(text).k
      if case[1] ~= case[1] then
        assert.is_true(back ~= back)
        return
      end
      assert.are.equal(case[1], back)
      -- in a sequence, and as a key
      assert.are.same({ case[1] }, lyaml.load(render("yaml", { k = array{ case[1] } })).k)
      if type(case[1]) == "string" and case[1] ~= "<<" then
        assert.are.same({ [case[1]] = 1 }, lyaml.load(render("yaml", { [case[1]] = 1 })))
      end
    end)
  end

  it("indents a literal block under its key, wherever the key is", function()
    assert.are.equal("- c:\n  - s: |-\n      one\n      two\n    t: 1\n",
      render("yaml", array{ { c = array{ { s = "one\ntwo", t = 1 } } } }))
    assert.are.equal("- |-\n  one\n  two\n", render("yaml", array{ "one\ntwo" }))
  end)

  it("prints a multi-line string on its own in quotes, not a block", function()
    assert.are.equal('"one\\ntwo"\n', render("yaml", "one\ntwo"))
  end)

  it("prints a decoded API resource that libyaml reads back to the same value", function()
    local text = render("yaml", job())
    assert.matches("\ngeneration: '3'\n", text, 1, true)
    assert.matches("\n      - |\n        set -e\n        run --all\n", text, 1, true)
    assert.matches("\n        value: 'yes'\n", text, 1, true)
    assert.matches("\netag: '\"a1b2\"'\n", text, 1, true)
    assert.are.same(job(), lyaml.load(text))

    local list = { job(), job() }
    list[2].name = "other"
    local docs = lyaml.load(render("yaml", list, true), { all = true })
    assert.are.same(list, docs)
  end)
end)

describe("--format=value(...)", function()
  local spec_cases = {
    -- name, format, value, list, expected
    { "fields of one resource, tab-separated",
      "value(name,template.taskCount,template.template.containers[0].image)", nil, false,
      "projects/p/locations/europe-west1/jobs/nightly\t4\teurope-docker.pkg.dev/p/r/nightly:1.2\n" },
    { "missing fields as empty", "value(nope,template.nope.deeper,name.sub,template.template.containers[5].image)",
      nil, false, "\t\t\t\n" },
    { "indexes from 0 and from the end", "value(template.template.containers[0].env[0].name,"
      .. "template.template.containers[-1].env[-1].value,template.template.containers[0].env[-3].name)",
      nil, false, "MODE\t0x10\t\n" },
    { "lists joined by ;", "value(template.template.containers[0].command,template.template.containers[0].args)",
      nil, false, "/bin/sh;-c;set -e\nrun --all\n\t\n" },
    { "[] across items", "value(template.template.containers[].env[].name,template.template.containers[].image)",
      nil, false, "[\"MODE\", \"LIMIT\"]\teurope-docker.pkg.dev/p/r/nightly:1.2\n" },
    { "maps as KEY=VALUE;... in key order, nested values as JSON",
      "value(labels,annotations,template.template.containers[0].resources,terminalCondition.type)",
      nil, false, 'env=prod;team=data\t\tlimits={"cpu": "1", "memory": "512Mi"}\tReady\n' },
    { "booleans as gcloud (True/False), numbers, int64 strings", "value(reconciling,executionCount,generation)",
      nil, false, "False\t12\t3\n" },
  }
  for _, case in ipairs(spec_cases) do
    it("prints " .. case[1], function()
      assert.are.equal(case[5], render(case[2], case[3] or job(), case[4]))
    end)
  end

  it("prints a line per resource of a list, and nothing for an empty list", function()
    local list = { { name = "a", n = 1, tags = array{ "x", "y" } }, { name = "b" }, { n = 3.5, tags = array{ true, 0 } } }
    assert.are.equal("a\t1\tx;y\nb\t\t\n\t3.5\tTrue;0\n", render("value(name,n,tags)", list, true))
    assert.are.equal("", render("value(name)", {}, true))
    assert.are.equal("", render("value(name)", array{}, true))
  end)

  it("leaves a value that is not a table empty under a path", function()
    assert.are.equal("\t\n", render("value(name.x,name[0])", { name = "s" }))
    assert.are.equal("\n", render("value(m[0])", { m = { a = 1 } }))
  end)
end)

describe("--format=table(...)", function()
  it("aligns columns under headers from the last names, two spaces apart, no trailing blanks", function()
    local list = {
      { name = "alpha", template = { taskCount = 10 }, latestCreatedExecution = { name = "alpha-1" } },
      { name = "b", template = { taskCount = 2 } },
    }
    assert.are.equal(table.concat({
      "NAME   TASK_COUNT  LATEST_CREATED_EXECUTION_NAME",
      "alpha  10          alpha-1",
      "b      2",
      "",
    }, "\n"), render("table(name,template.taskCount,latestCreatedExecution.name)", list, true))
  end)

  it("takes headers from :label=", function()
    assert.are.equal("JOB      LAST RUN\nnightly  nightly-x2k9q\n",
      render("table(name.x:label=JOB,latestCreatedExecution.name:label='LAST RUN')",
        { name = { x = "nightly" }, latestCreatedExecution = { name = "nightly-x2k9q" } }))
  end)

  it("prints a single resource under its header, and nothing for an empty list", function()
    assert.are.equal("NAME  STATUS\nj\n", render("table(name,status)", { name = "j" }))
    assert.are.equal("", render("table(name,status)", {}, true))
  end)

  it("prints lists as value() does", function()
    assert.are.equal("NAME  COMMAND\nj     a;b\n", render("table(name,command)", { name = "j", command = array{ "a", "b" } }, false))
  end)

  it("counts characters, not bytes, and puts a cell's further lines below it", function()
    assert.are.equal(table.concat({
      "NAME  MESSAGE  X",
      "été   one      1",
      "      two",
      "ab    three    2",
      "",
    }, "\n"), render("table(name,message,x)",
      { { name = "été", message = "one\ntwo\n", x = 1 }, { name = "ab", message = "three", x = 2 } }, true))
  end)
end)
