-- cloudrun-lua run as a subprocess, the way lua's own test suite runs lua:
-- the standard options, script arguments, and require("cloudrun") with no
-- LUA_PATH/LUA_CPATH at all.
local h = require("helpers")

local HOST = h.sh_quote(h.bin .. "/cloudrun-lua")
-- no LUA_PATH, no LUA_CPATH, no LUA_INIT (of any Lua): the module must be built in
local CLEAN = "env -u LUA_PATH -u LUA_CPATH -u LUA_INIT"
for _, v in ipairs({ "5_2", "5_3", "5_4" }) do
  CLEAN = CLEAN .. " -u LUA_PATH_" .. v .. " -u LUA_CPATH_" .. v .. " -u LUA_INIT_" .. v
end
CLEAN = CLEAN .. " "
-- the Lua this build embeds: CR_LUA_VERSION (5.1 ... 5.4, luajit)
local LUA_VERSION = assert(os.getenv("CLOUDRUN_LUA_VERSION"))

local function run(args, stdin)
  local cmd = CLEAN .. HOST .. " " .. args
  if stdin then cmd = "printf '%s' " .. h.sh_quote(stdin) .. " | " .. cmd end
  return h.run(cmd .. " 2>&1")
end

describe("cloudrun-lua", function()
  it("requires cloudrun with no LUA_PATH set", function()
    local out, rc = run([[-e 'local c = require("cloudrun"); print(c._VERSION, type(c.client), type(require("cloudrun.core").client))']])
    assert.are.equal(0, rc, out)
    assert.matches("^%d+%.%d+%.%d+\tfunction\tfunction\n$", out)
  end)

  it("carries every Lua module of the tree inside", function()
    local src = assert(os.getenv("CLOUDRUN_SOURCE_DIR"))
    local files = h.run("cd " .. h.sh_quote(src .. "/lua") .. " && find . -name '*.lua' | sort")
    for f in files:gmatch("[^\n]+") do
      local mod = f:gsub("^%./", ""):gsub("/init%.lua$", ""):gsub("%.lua$", ""):gsub("/", ".")
      local out, rc = run("-e " .. h.sh_quote("assert(package.preload['" .. mod .. "'], 'not built in'); require('" .. mod .. "')"))
      assert.are.equal(0, rc, mod .. ": " .. out)
    end
  end)

  it("prints its version with -v: the Lua it embeds", function()
    local out, rc = run("-v")
    assert.are.equal(0, rc)
    assert.matches(LUA_VERSION == "luajit" and "^LuaJIT 2%.1" or ("^Lua " .. LUA_VERSION:gsub("%.", "%%.") .. "%.%d"), out)
    assert.matches("lua-cloudrun", out, 1, true)
  end)

  it("runs LUA_INIT first, under the name this Lua reads", function()
    local name = (LUA_VERSION == "5.1" or LUA_VERSION == "luajit") and "LUA_INIT"
      or "LUA_INIT_" .. LUA_VERSION:gsub("%.", "_")
    local out, rc = h.run(CLEAN .. name .. "='greeting = \"hi\"' " .. HOST .. " -e 'print(greeting)' 2>&1")
    assert.are.equal(0, rc, out)
    assert.are.equal("hi\n", out)
  end)

  it("runs a script with its arguments in arg and ...", function()
    local dir = h.tmpdir()
    h.write(dir .. "/s.lua", "print(arg[0]:match('s.lua$'), arg[1], arg[2], select('#', ...), ...)")
    local out, rc = run(h.sh_quote(dir .. "/s.lua") .. " a 'b c'")
    os.execute("rm -rf " .. h.sh_quote(dir))
    assert.are.equal(0, rc, out)
    assert.are.equal("s.lua\ta\tb c\t2\ta\tb c\n", out)
  end)

  it("runs -e chunks in order and -l libraries into globals", function()
    local out, rc = run([[-l cloudrun -e 'x = cloudrun._VERSION' -e 'print(x == require("cloudrun")._VERSION)']])
    assert.are.equal(0, rc, out)
    assert.are.equal("true\n", out)
    out, rc = run([[-l cr=cloudrun -e 'print(type(cr.client))']])
    assert.are.equal(0, rc, out)
    assert.are.equal("function\n", out)
  end)

  it("reads the program from stdin with -", function()
    local out, rc = run("- one", "print(arg[1], require('cloudrun')._VERSION ~= nil)")
    assert.are.equal(0, rc, out)
    assert.are.equal("one\ttrue\n", out)
  end)

  it("evaluates expressions interactively with -i", function()
    local out, rc = run("-i", "1 + 2\nlocal t = {\n}\nprint('x')\n")
    assert.are.equal(0, rc, out)
    assert.matches("3\n", out, 1, true)
    assert.matches("x\n", out, 1, true)
  end)

  it("reports a runtime error on stderr with a traceback and exits 1", function()
    local out, rc = run([[-e 'error("boom")']])
    assert.are.equal(1, rc)
    assert.matches("boom", out, 1, true)
    assert.matches("stack traceback", out, 1, true)
  end)

  it("shows error objects through their __tostring", function()
    local out, rc = run([[-e 'error(require("cloudrun").error("NOT_FOUND", "no such job", 404))']])
    assert.are.equal(1, rc)
    assert.matches("NOT_FOUND: no such job (HTTP 404)", out, 1, true)
  end)

  it("rejects an unknown option with the usage text", function()
    local out, rc = run("-z")
    assert.are.equal(1, rc)
    assert.matches("unrecognized option '-z'", out, 1, true)
    assert.matches("usage:", out, 1, true)
  end)

  it("reports a syntax error in a script", function()
    local dir = h.tmpdir()
    h.write(dir .. "/bad.lua", "local = 1")
    local out, rc = run(h.sh_quote(dir .. "/bad.lua"))
    os.execute("rm -rf " .. h.sh_quote(dir))
    assert.are.equal(1, rc)
    assert.matches("bad.lua:1:", out, 1, true)
  end)

  -- What a start costs is what it loads (bench part (e)): a one-shot trigger loads the
  -- modules it uses, the rest at their first use, and the CLI only the module of the
  -- command the line names.
  it("loads filter, idempotency and wait at their first use, not with cloudrun", function()
    local out, rc = run([[-e 'local c = require("cloudrun")
local function loaded() local t = {} for _, m in ipairs({ "filter", "idempotency", "wait" }) do
  t[#t + 1] = tostring(package.loaded["cloudrun." .. m] ~= nil) end return table.concat(t, " ") end
print(loaded())
local cl = assert(c.client{ project = "p", region = "r", credentials = false, endpoint = "http://127.0.0.1:9" })
print(pcall(cl.each_jobs, cl, { filter = "name:(" }))
print(pcall(cl.run_job, cl, "j", { idempotency_key = 7 }))
print(pcall(cl.wait, cl, 42))
print(loaded())']])
    assert.are.equal(0, rc, out)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal("false false false", lines[1], out)
    assert.matches("^false\t.*option 'filter'", lines[2])
    assert.matches("^false\t.*idempotency_key", lines[3])
    assert.matches("^false\t", lines[4])
    assert.are.equal("true true true", lines[5], out)
  end)

  it("runs a CLI command with only its own module loaded; a group's help loads them all", function()
    local out, rc = run([[-e 'local cli = require("cloudrun.cli")
local function loaded(list) local t = {} for _, m in ipairs(list) do
  t[#t + 1] = tostring(package.loaded["cloudrun.cli." .. m] ~= nil) end return table.concat(t, " ") end
local all = { "execute", "jobs", "executions", "auth", "logs", "iam", "spec", "list", "format", "progress" }
io.stdout:write("[", tostring(cli.main({ "jobs", "execute", "--help" })), "]\n")
print(loaded(all))
cli.main({ "jobs", "--help" })
print(loaded({ "execute", "jobs", "executions", "auth", "logs", "iam" }))']])
    assert.are.equal(0, rc, out)
    assert.matches("usage: cloudrun jobs execute JOB", out, 1, true)
    assert.matches("%[0%]\ntrue false false false false false false false false false\n", out)
    assert.matches("usage: cloudrun jobs <command>", out, 1, true)
    assert.matches("\ntrue true true true true true\n$", out)
  end)
end)
