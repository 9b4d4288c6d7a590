-- The man pages the build writes (build/man/cloudrun.1, cloudrun-lua.1) held
-- to the help the hosts print: every command, flag, environment variable and
-- exit status that `cloudrun --help`, each group's and each command's --help,
-- `cloudrun emulator --help` and cloudrun-lua's usage list, with its help text;
-- and the pages rendered by man-db with no warning (what lintian checks).
local h = require("helpers")

local CLI = h.sh_quote(h.bin .. "/cloudrun")
local HOST = h.sh_quote(h.bin .. "/cloudrun-lua")
local MAN_DIR = h.bin .. "/../man"
local SRC = assert(os.getenv("CLOUDRUN_SOURCE_DIR"))

local function squeeze(s)
  return (s:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", ""))
end

-- The page's text as a reader sees it: fonts, escapes and macros gone, words
-- separated by single spaces.
local function plain(roff)
  local text = roff:gsub("\n%.[^\n]*", "\n"):gsub("\\f[BIR]", ""):gsub("\\%-", "-"):gsub("\\%(aq", "'")
    :gsub("\\%(ga", "`"):gsub("\\&", ""):gsub("\\ ", " "):gsub("\\e", "\\")
  return " " .. squeeze(text) .. " "
end

-- Rows { label, help } of a listing under `heading` in a help text, up to the
-- next blank line: "  label  help" rows, their help continued on deeper lines.
local function rows(text, heading)
  local out, on = {}, false
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if line == heading then
      on = true
    elseif on and line == "" then
      on = false
    elseif on and line:find("^  %S") then
      local label, help = line:match("^  (%S.-)%s%s+(%S.*)$")
      out[#out + 1] = { label or squeeze(line), help or "" }
    elseif on then
      out[#out][2] = out[#out][2] .. " " .. squeeze(line)
    end
  end
  return out
end

local function run(cmd)
  local out, rc = h.run(cmd .. " 2>&1")
  assert.are.equal(0, rc, cmd .. ": " .. out)
  return out
end

local function has(text, wanted, where)
  assert(text:find(" " .. squeeze(wanted) .. " ", 1, true)
    or text:find(squeeze(wanted), 1, true), ("%s: %q is not in the man page"):format(where, wanted))
end

local function page(name)
  return assert(h.read(MAN_DIR .. "/" .. name), "the build writes " .. MAN_DIR .. "/" .. name)
end

describe("man pages", function()
  it("are what the hosts print now", function()
    assert.are.equal(run(CLI .. " help --man"), page("cloudrun.1"))
    assert.are.equal(run(HOST .. " --man"), page("cloudrun-lua.1"))
  end)

  it("cloudrun.1 has every command, flag and help text that cloudrun --help lists", function()
    local text = plain(page("cloudrun.1"))
    local root = run(CLI .. " --help")
    local commands, groups = rows(root, "commands:"), {}
    assert.is_true(#commands > 10)
    for _, row in ipairs(commands) do
      has(text, "cloudrun " .. row[1], "cloudrun --help")
      has(text, row[2], "cloudrun --help")
      local words = {}
      for w in row[1]:gmatch("%S+") do
        if w:find("^%u") then break end
        words[#words + 1] = w
      end
      for i = 1, #words - 1 do groups[table.concat(words, " ", 1, i)] = true end
      -- the command's own help: its flags and the global ones, each with its help
      local help = run(CLI .. " " .. table.concat(words, " ") .. " --help")
      has(text, help:match("^usage: ([^\n]*)"), row[1])
      for _, heading in ipairs({ "flags:", "global flags:" }) do
        for _, flag in ipairs(rows(help, heading)) do
          has(text, flag[1], row[1] .. " --help")
          has(text, flag[2], row[1] .. " --help")
        end
      end
    end
    for group in pairs(groups) do
      local help = run(CLI .. " " .. group .. " --help")
      has(text, help:match("^[^\n]*\n\n([^\n]*)"), group .. " --help")
      for _, row in ipairs(rows(help, "commands:")) do
        has(text, "cloudrun " .. group .. " " .. row[1], group .. " --help")
      end
    end
    for _, heading in ipairs({ "also:", "environment:", "exit status:" }) do
      local listed = rows(root, heading)
      assert.is_true(#listed > 2, heading)
      for _, row in ipairs(listed) do
        has(text, heading == "also:" and ("cloudrun " .. row[1]) or row[1], heading)
        has(text, row[2], heading)
      end
    end
    assert.matches('\n%.SH "SEE ALSO"\n%.BR cloudrun\\%-lua %(1%)\n', page("cloudrun.1"))
  end)

  it("cloudrun.1 has the emulator's every flag, with its help", function()
    local text = plain(page("cloudrun.1"))
    local help = run(CLI .. " emulator --help")
    local n = 0
    for label, first in help:gmatch("\n  (%-%-[%w%-]+ ?%u*)%s+([^\n]*)") do
      has(text, label, "cloudrun emulator --help")
      has(text, first, "cloudrun emulator --help")
      n = n + 1
    end
    assert.is_true(n >= 14, "flags found: " .. n)
  end)

  it("cloudrun.1 names only environment variables the code reads", function()
    local section = page("cloudrun.1"):match("\n%.SH ENVIRONMENT\n(.-)\n%.SH")
    local n = 0
    for name in section:gmatch("%.TP\n\\fB([%u_%d]+)\\fR") do
      local _, rc = h.run(("grep -rqF -- %s %s/src %s/lua"):format(h.sh_quote('"' .. name .. '"'), h.sh_quote(SRC),
        h.sh_quote(SRC)))
      assert.are.equal(0, rc, name .. " is read nowhere in src/ or lua/")
      n = n + 1
    end
    assert.is_true(n > 5)
  end)

  it("cloudrun-lua.1 has every option its usage lists", function()
    local text = plain(page("cloudrun-lua.1"))
    local usage = h.run(HOST .. " -z 2>&1")
    local options = rows(usage, "Available options are:")
    assert.are.equal(9, #options)
    for _, row in ipairs(options) do
      has(text, row[1], "cloudrun-lua usage")
      has(text, row[2], "cloudrun-lua usage")
    end
    has(text, "cloudrun-lua " .. usage:match("\nusage: %S+ ([^\n]*)"), "cloudrun-lua usage")
  end)

  for _, name in ipairs({ "cloudrun.1", "cloudrun-lua.1" }) do
    it(name .. " escapes roff: each hyphen a minus, no text line read as a request", function()
      for line in page(name):gmatch("[^\n]+") do
        if not (line:find("^%.%a%a?$") or line:find("^%.%a%a? ")) then
          assert.is_nil(line:find("^['.]"), line)
          assert.is_nil(line:find("^%-") or line:find("[^\\]%-"), line)
        end
      end
    end)

    it(name .. " renders with no warnings from man-db and groff", function()
      local _, no_man = h.run("command -v man >/dev/null")
      if no_man ~= 0 then
        pending("man is not installed (scripts/install-deps installs man-db)")
        return
      end
      local file = h.sh_quote(MAN_DIR .. "/" .. name)
      -- what lintian runs for manpage-has-errors-from-man
      local warnings, rc = h.run("LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "
        .. file .. " 2>&1 >/dev/null")
      assert.are.same({ "", 0 }, { warnings, rc })
      warnings, rc = h.run("groff -man -Tutf8 -ww -z " .. file .. " 2>&1")
      assert.are.same({ "", 0 }, { warnings, rc })
      -- and its NAME line as mandb reads it
      assert.matches("^%S+: \"" .. name:gsub("%.1$", ""):gsub("%-", "%%-") .. " %- ", run("lexgrog " .. file))
      local rendered = run("MANWIDTH=80 man -l " .. file)
      assert.matches("NAME", rendered, 1, true)
      assert.matches("SYNOPSIS", rendered, 1, true)
    end)
  end
end)
