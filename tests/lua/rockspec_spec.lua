-- The rockspec installs a working module: `luarocks make` into a temporary
-- tree, then a stock lua5.4 requires cloudrun from there and makes a call.
local h = require("helpers")

local SRC = assert(os.getenv("CLOUDRUN_SOURCE_DIR"))
local ROCKSPEC = SRC .. "/rockspec/lua-cloudrun-scm-1.rockspec"

describe("rockspec/lua-cloudrun-scm-1.rockspec", function()
  it("lists every C source of the core and the binding", function()
    local text = assert(h.read(ROCKSPEC))
    local files = h.run("cd " .. h.sh_quote(SRC) .. " && ls src/core/*/*.c src/lua/*.c")
    for f in files:gmatch("[^\n]+") do
      assert.is_truthy(text:find('"' .. f .. '"', 1, true), f .. " is missing from the rockspec (run scripts/rockspec-sources)")
    end
  end)

  it("lists every Lua module", function()
    local text = assert(h.read(ROCKSPEC))
    local files = h.run("cd " .. h.sh_quote(SRC) .. " && find lua -name '*.lua' | sort")
    for f in files:gmatch("[^\n]+") do
      assert.is_truthy(text:find('"' .. f .. '"', 1, true), f .. " is missing from the rockspec (run scripts/rockspec-sources)")
    end
  end)

  it("installs with luarocks make, and the installed module works", function()
    -- build from a copy: the builtin backend leaves object files beside the sources
    local tree, copy = h.tmpdir(), h.tmpdir()
    local out, rc = h.run(("cd %s && cp -r lua src rockspec %s && cd %s && luarocks --lua-version 5.4 --tree %s make %s 2>&1"):format(
      h.sh_quote(SRC), h.sh_quote(copy), h.sh_quote(copy), h.sh_quote(tree), "rockspec/lua-cloudrun-scm-1.rockspec"))
    os.execute("rm -rf " .. h.sh_quote(copy))
    assert.are.equal(0, rc, out)
    local script = [[
      local cloudrun = require("cloudrun")
      assert(package.searchpath("cloudrun.core", package.cpath):find(os.getenv("TREE"), 1, true))
      local c = assert(cloudrun.client{ project = "p", region = "r", endpoint = "http://127.0.0.1:9", credentials = false })
      local op, err = c:run_job("j", { args = { "x" }, retry = { attempts = 1 } })
      print(err.code)]]
    out, rc = h.run(("cd / && TREE=%s LUA_PATH=%s LUA_CPATH=%s lua5.4 -e %s 2>&1"):format(
      h.sh_quote(tree),
      h.sh_quote(tree .. "/share/lua/5.4/?.lua;" .. tree .. "/share/lua/5.4/?/init.lua"),
      h.sh_quote(tree .. "/lib/lua/5.4/?.so"), h.sh_quote(script)))
    os.execute("rm -rf " .. h.sh_quote(tree))
    assert.are.equal(0, rc, out)
    assert.are.equal("UNAVAILABLE\n", out)
  end)
end)
