-- One version, one place: CMakeLists.txt's project(). Everything that says a
-- version says that one: the C header, `cloudrun --version`, `cloudrun-lua -v`,
-- cloudrun._VERSION, the installed cloudrun.pc, the release rockspec and
-- tarball that `scripts/dist` makes, and debian/changelog's newest entry.
local h = require("helpers")
local cloudrun = require("cloudrun")

local SRC = assert(os.getenv("CLOUDRUN_SOURCE_DIR"))
local BIN = assert(os.getenv("CLOUDRUN_BIN_DIR"))
local BUILD = BIN:gsub("/bin$", "")
local VERSION = assert(h.read(SRC .. "/CMakeLists.txt"):match("\nproject%(lua%-cloudrun VERSION ([%d.]+)"))

describe("the version", function()
  it("is the project's in the C header", function()
    assert.are.equal(VERSION, h.read(SRC .. "/src/core/include/cloudrun.h"):match('#define CR_VERSION "([^"]+)"'))
  end)

  it("is what the hosts and the module say", function()
    local out = h.run(h.sh_quote(BIN .. "/cloudrun") .. " --version")
    assert.are.equal("cloudrun (lua-cloudrun) " .. VERSION .. "\n", out)
    out = h.run(h.sh_quote(BIN .. "/cloudrun-lua") .. " -v")
    assert.matches("(lua-cloudrun " .. VERSION .. ")", out, 1, true)
    assert.are.equal(VERSION, cloudrun._VERSION)
  end)

  it("is in the installed cloudrun.pc", function()
    local prefix = h.tmpdir()
    local out, rc = h.run(("cmake --install %s --prefix %s --component dev 2>&1"):format(h.sh_quote(BUILD),
      h.sh_quote(prefix)))
    assert(rc == 0, out)
    local path = h.run(("find %s -name cloudrun.pc"):format(h.sh_quote(prefix))):match("[^\n]+")
    local pc = assert(path and h.read(path), "no cloudrun.pc under " .. prefix .. ": " .. out)
    assert.are.equal(VERSION, pc:match("\nVersion: ([^\n]+)"))
    assert.are.equal(prefix, pc:match("^prefix=([^\n]+)"))
  end)

  it("is debian/changelog's newest entry, as VERSION-N", function()
    local changelog = h.read(SRC .. "/debian/changelog")
    if not changelog then return end -- a tree without Debian packaging
    local upstream = assert(changelog:match("^[%w%-]+ %(([^)]+)%)"))
    assert.are.equal(VERSION, upstream:match("^(.-)%-%d+$"))
  end)

  it("names the release rockspec and the tarball scripts/dist makes", function()
    local _, git = h.run(("cd %s && git rev-parse --is-inside-work-tree 2>&1"):format(h.sh_quote(SRC)))
    if git ~= 0 then return end -- a tarball's tree has no git to archive from
    local dir = h.tmpdir()
    local out, rc = h.run(("cd %s && DIST_DIR=%s scripts/dist 2>&1"):format(h.sh_quote(SRC), h.sh_quote(dir)))
    assert(rc == 0, out)
    local tarball = dir .. "/lua-cloudrun-" .. VERSION .. ".tar.gz"
    assert(h.read(tarball), "no " .. tarball .. " in: " .. out)
    local list = h.run(("tar tzf %s"):format(h.sh_quote(tarball)))
    assert.matches("lua-cloudrun-" .. VERSION .. "/rockspec/lua-cloudrun-" .. VERSION .. "-1.rockspec", list, 1, true)
    local spec = h.run(("tar xzOf %s lua-cloudrun-%s/rockspec/lua-cloudrun-%s-1.rockspec"):format(
      h.sh_quote(tarball), VERSION, VERSION))
    assert.are.equal(VERSION .. "-1", spec:match('\nversion = "([^"]+)"'))
  end)
end)
