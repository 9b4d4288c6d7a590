-- The rockspec installs a working module for each Lua: `luarocks make` into a
-- temporary tree, then that Lua's stock interpreter requires cloudrun from
-- there and makes a call, and the installed `cloudrun` command runs. A build
-- against another Lua's headers installs nothing and says why.
-- (It drives luarocks and the interpreters as subprocesses, so it is the same
-- test whichever Lua runs busted: CMake registers it in the Lua 5.4 build.)
local h = require("helpers")

local SRC = assert(os.getenv("CLOUDRUN_SOURCE_DIR"))
local ROCKSPEC = "rockspec/lua-cloudrun-scm-1.rockspec"
-- the one version: CMakeLists.txt's project()
local VERSION = assert(h.read(SRC .. "/CMakeLists.txt"):match("project%(lua%-cloudrun VERSION ([%d.]+)"))

--- luarocks --lua-version V --tree TREE make ROCKSPEC ARGS, from a copy of the
-- sources (the builtin backend leaves object files beside them).
-- Returns its output, its exit status and the tree (the caller removes it).
local function make(lua_version, args)
  local tree, copy = h.tmpdir(), h.tmpdir()
  local out, rc = h.run(("cd %s && cp -r lua src rockspec %s && cd %s && luarocks --lua-version %s --tree %s make %s %s 2>&1"):format(
    h.sh_quote(SRC), h.sh_quote(copy), h.sh_quote(copy), lua_version, h.sh_quote(tree), ROCKSPEC, args or ""))
  os.execute("rm -rf " .. h.sh_quote(copy))
  return out, rc, tree
end

--- Runs `script` in `interpreter` with only the tree's module paths.
local function run_in_tree(interpreter, tree, lua_version, script)
  local share, lib = tree .. "/share/lua/" .. lua_version, tree .. "/lib/lua/" .. lua_version
  return h.run(("cd / && LUA_PATH=%s LUA_CPATH=%s %s -e %s 2>&1"):format(
    h.sh_quote(share .. "/?.lua;" .. share .. "/?/init.lua"), h.sh_quote(lib .. "/?.so"), interpreter, h.sh_quote(script)))
end

-- A call that reaches the network: nothing listens on port 9, so UNAVAILABLE.
local CALL = [[
  local cloudrun = require("cloudrun")
  local c = assert(cloudrun.client{ project = "p", region = "r", endpoint = "http://127.0.0.1:9", credentials = false })
  local op, err = c:run_job("j", { args = { "x" }, retry = { attempts = 1 } })
  print((jit and jit.version or _VERSION) .. " " .. err.code)]]

--- The installed `cloudrun` command: its version, the emulator's absence, and a real call.
local function check_command(tree)
  local cmd = h.sh_quote(tree .. "/bin/cloudrun")
  local out, rc = h.run(cmd .. " version 2>&1")
  assert.are.equal(0, rc, out)
  assert.are.equal("cloudrun (lua-cloudrun) " .. VERSION .. "\n", out)
  out, rc = h.run(cmd .. " emulator 2>&1")
  assert.are.equal(2, rc, out)
  assert.matches("the emulator is not part of the LuaRocks install", out, 1, true)
  out, rc = h.run("CLOUD_RUN_EMULATOR_HOST=127.0.0.1:9 " .. cmd .. " jobs describe j --project p --region r 2>&1")
  assert.are.equal(3, rc, out)
  assert.matches("UNAVAILABLE", out, 1, true)
end

describe("rockspec/lua-cloudrun-scm-1.rockspec", function()
  it("lists every C source of the core and the binding", function()
    local text = assert(h.read(SRC .. "/" .. ROCKSPEC))
    local files = h.run("cd " .. h.sh_quote(SRC) .. " && ls src/core/*/*.c src/lua/*.c")
    for f in files:gmatch("[^\n]+") do
      assert.is_truthy(text:find('"' .. f .. '"', 1, true), f .. " is missing from the rockspec (run scripts/rockspec-sources)")
    end
  end)

  it("lists every Lua module", function()
    local text = assert(h.read(SRC .. "/" .. ROCKSPEC))
    local files = h.run("cd " .. h.sh_quote(SRC) .. " && find lua -name '*.lua' | sort")
    for f in files:gmatch("[^\n]+") do
      assert.is_truthy(text:find('"' .. f .. '"', 1, true), f .. " is missing from the rockspec (run scripts/rockspec-sources)")
    end
  end)

  it("installs for Lua 5.4: lua5.4 requires it from the tree, and the cloudrun command works", function()
    local out, rc, tree = make("5.4")
    finally(function() os.execute("rm -rf " .. h.sh_quote(tree)) end)
    assert.are.equal(0, rc, out)
    assert.matches("built against Lua 5%.4%.%d+, loads in Lua 5%.4", out)
    out, rc = run_in_tree("lua5.4", tree, "5.4", CALL)
    assert.are.equal(0, rc, out)
    assert.are.equal("Lua 5.4 UNAVAILABLE\n", out)
    check_command(tree)
  end)

  -- the issue's case: Debian's luarocks picks 5.1 when lua5.1 is installed; that build used to load nowhere
  it("installs for Lua 5.1 (its own headers): lua5.1 and luajit require it, and the cloudrun command works", function()
    local out, rc, tree = make("5.1")
    finally(function() os.execute("rm -rf " .. h.sh_quote(tree)) end)
    assert.are.equal(0, rc, out)
    assert.matches("built against Lua 5%.1%.%d+, loads in Lua 5%.1", out)
    out, rc = run_in_tree("lua5.1", tree, "5.1", CALL)
    assert.are.equal(0, rc, out)
    assert.are.equal("Lua 5.1 UNAVAILABLE\n", out)
    out, rc = run_in_tree("luajit", tree, "5.1", CALL)
    assert.are.equal(0, rc, out)
    assert.matches("^LuaJIT 2%.1[^\n]* UNAVAILABLE\n$", out)
    check_command(tree)
  end)

  it("installs for LuaJIT (--lua-version 5.1, LuaJIT's headers): luajit and lua5.1 require it", function()
    local out, rc, tree = make("5.1", "LUA_INCDIR=/usr/include/luajit-2.1")
    finally(function() os.execute("rm -rf " .. h.sh_quote(tree)) end)
    assert.are.equal(0, rc, out)
    assert.matches("built against LuaJIT 2.1", out, 1, true)
    out, rc = run_in_tree("luajit", tree, "5.1", CALL)
    assert.are.equal(0, rc, out)
    assert.matches("^LuaJIT 2%.1[^\n]* UNAVAILABLE\n$", out)
    -- only the 5.1 API is used, so the same tree serves PUC-Rio's 5.1 (which runs the command)
    out, rc = run_in_tree("lua5.1", tree, "5.1", CALL)
    assert.are.equal(0, rc, out)
    assert.are.equal("Lua 5.1 UNAVAILABLE\n", out)
    check_command(tree)
  end)

  it("refuses a LUA_INCDIR of another Lua, installing nothing (luarocks' own check)", function()
    local out, rc, tree = make("5.4", "LUA_INCDIR=/usr/include/lua5.1")
    finally(function() os.execute("rm -rf " .. h.sh_quote(tree)) end)
    assert.are_not.equal(0, rc, out)
    assert.matches("Lua header mismatches configured version", out, 1, true)
    assert.is_nil(h.read(tree .. "/lib/lua/5.4/cloudrun/core.so"))
  end)

  it("refuses a module built against other headers (here through CFLAGS), naming both Luas, installing nothing", function()
    local out, rc, tree = make("5.4", "CFLAGS='-O2 -fPIC -I/usr/include/lua5.1'")
    finally(function() os.execute("rm -rf " .. h.sh_quote(tree)) end)
    assert.are_not.equal(0, rc, out)
    assert.matches("the module was built against Lua 5.1.5, but /usr/bin/lua5.4 (Lua 5.4) cannot use it", out, 1, true)
    assert.matches("luarocks --lua-version X.Y", out, 1, true)
    assert.matches("Failed running post_install hook", out, 1, true)
    -- luarocks rolled the install back
    assert.is_nil(h.read(tree .. "/lib/lua/5.4/cloudrun/core.so"))
    assert.is_nil(h.read(tree .. "/bin/cloudrun"))
  end)
end)
