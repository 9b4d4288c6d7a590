-- Text from outside never drives the terminal (issue 19, item 5): the
-- `cloudrun` command as a subprocess, on a pseudo-terminal (script(1)) and
-- through a pipe, against the emulator and cr-hostile. On a terminal every
-- control but tab and newline, DEL, C1 controls and invalid UTF-8 in what a
-- server or a task sent is shown as \xHH; in a pipe every format carries the
-- bytes as they were sent.
local h = require("helpers")
local common = require("cloudrun.cli.common")
local format = require("cloudrun.cli.format")

local CLI = h.sh_quote(h.bin .. "/cloudrun")
local LUA = h.sh_quote(h.bin .. "/cloudrun-lua")
local HOSTILE = assert(os.getenv("CR_HOSTILE"), "CR_HOSTILE: the cr-hostile binary")

-- A window title (OSC 0), a clipboard write (OSC 52), a cleared screen (CSI),
-- a C1 CSI (U+009B) and DEL; and how a terminal is to show them.
local EVIL = "\27]0;pwned\7|\27]52;c;ZXZpbA==\7|\27[2J|\194\155|\127|ok"
local SHOWN = [[\x1b]0;pwned\x07|\x1b]52;c;ZXZpbA==\x07|\x1b[2J|\xc2\x9b|\x7f|ok]]

local function has_script()
  local _, rc = h.run("script --version >/dev/null 2>&1")
  return rc == 0
end

-- Nothing a terminal acts on: printable ASCII, tab, newline, and the \r a
-- pty puts before each newline (and the progress line's own \r).
local function assert_inert(text, what)
  local at = text:find("[^\t\n\r\32-\126]")
  assert(not at, ("%s: byte 0x%02x at %d in:\n%s"):format(what, at and text:byte(at) or 0, at or 0, text))
end

local function contains(text, plain, what)
  assert(text:find(plain, 1, true), ("%s: %q not in:\n%s"):format(what, plain, text))
end

describe("common.terminal_safe", function()
  local cases = {
    { "plain text", "jobs/x-1: done", "jobs/x-1: done" },
    { "tab and newline kept", "a\tb\nc\n", "a\tb\nc\n" },
    { "a backslash kept", [[C:\x1b]], [[C:\x1b]] },
    { "ESC, BEL, CR, NUL, BS", "\27[31m\7\r\0\8", [[\x1b[31m\x07\x0d\x00\x08]] },
    { "DEL", "a\127b", [[a\x7fb]] },
    { "C1 controls: CSI, OSC, NEL", "\194\155\194\157\194\133", [[\xc2\x9b\xc2\x9d\xc2\x85]] },
    { "U+00A0 and U+00E9 kept", "\194\160caf\195\169", "\194\160caf\195\169" },
    { "3- and 4-byte UTF-8 kept", "\226\130\172 \240\159\152\128 \239\191\189", "\226\130\172 \240\159\152\128 \239\191\189" },
    { "a stray byte", "a\255b\128c", [[a\xffb\x80c]] },
    { "a cut sequence", "\226\130", [[\xe2\x82]] },
    { "a cut sequence before ASCII", "\226\130x", [[\xe2\x82x]] },
    { "an overlong slash", "\192\175", [[\xc0\xaf]] },
    { "an overlong 3-byte", "\224\128\175", [[\xe0\x80\xaf]] },
    { "a surrogate", "\237\160\128", [[\xed\xa0\x80]] },
    { "past U+10FFFF", "\244\144\128\128", [[\xf4\x90\x80\x80]] },
    { "5-byte leads", "\248\136\128\128\128", [[\xf8\x88\x80\x80\x80]] },
    { "a number", 42, "42" },
  }
  for _, case in ipairs(cases) do
    it(case[1], function()
      assert.are.equal(case[3], common.terminal_safe(case[2]))
    end)
  end

  it("leaves what it made as it is (nothing is escaped twice)", function()
    local once = common.terminal_safe(EVIL .. "\255")
    assert.are.equal(SHOWN .. [[\xff]], once)
    assert.are.equal(once, common.terminal_safe(once))
  end)
end)

describe("the CLI shows outside text", function()
  local emu, env, client, execution

  -- the CLI on a new pseudo-terminal (stdout and stderr both), and its exit status
  local function on_pty(args, extra)
    return h.run(("%s %s script -qec %s /dev/null 2>&1"):format(env, extra or "", h.sh_quote(CLI .. " " .. args)))
  end

  -- the CLI in a pipe: stdout, or (both) stdout and stderr
  local function in_pipe(args, both, extra)
    return h.run(("%s %s %s %s %s"):format(env, extra or "", CLI, args, both and "2>&1" or "2>/dev/null"))
  end

  setup(function()
    emu = h.emulator()
    env = ("CLOUD_RUN_EMULATOR_HOST=%s GOOGLE_CLOUD_PROJECT=test-project CLOUDSDK_RUN_REGION=us-central1")
      :format(emu.host)
    client = h.client(emu.host)
    -- set through the API: the image, an arg and an env value; a task that prints the same kind of thing
    local job = h.sh_job("evil", [[printf '\033]0;title\007\033]52;c;ZXZpbA==\007\033[2J\302\233red\n']])
    local c = job.template.template.containers[1]
    c.image, c.args, c.env = "img" .. EVIL, { "a" .. EVIL }, { { name = "E", value = EVIL } }
    local op = assert(client:create_job("evil", job))
    assert(client:wait_operation(op, 30))
    op = assert(client:run_job("evil"))
    execution = assert(client:wait(op.execution, { timeout = 60 })).name:match("[^/]+$")
    -- a task that cannot start: the emulator quotes its workingDir in the Completed condition
    local wd = h.sh_job("wd", "exit 0")
    wd.template.template.containers[1].workingDir = "/nonexistent" .. EVIL
    op = assert(client:create_job("wd", wd))
    assert(client:wait_operation(op, 30))
  end)

  teardown(function()
    if emu then emu.stop() end
  end)

  before_each(function()
    if not has_script() then pending("script(1) (bsdutils) is needed for a terminal") end
  end)

  it("in `describe`, escaped on a terminal", function()
    local out, rc = on_pty("jobs describe evil")
    assert.are.equal(0, rc, out)
    contains(out, "img" .. SHOWN .. "\r\n", "Image")
    contains(out, "a" .. SHOWN .. "\r\n", "Args")
    contains(out, "E=" .. SHOWN .. "\r\n", "Env")
    assert_inert(out, "describe")
  end)

  it("in every --format, escaped on a terminal", function()
    for _, f in ipairs({ "json", "yaml", "'value(template.template.containers[0].image)'",
      "'table(name,template.template.containers[0].image:label=IMAGE)'" }) do
      local out, rc = on_pty("jobs describe evil --format " .. f)
      assert.are.equal(0, rc, out)
      assert_inert(out, f)
    end
    local out = on_pty("jobs describe evil --format json")
    -- C0 controls as JSON escapes (as before), DEL and the C1 control as \xHH
    contains(out, [["img\u001b]0;pwned\u0007|\u001b]52;c;ZXZpbA==\u0007|\u001b[2J|\xc2\x9b|\x7f|ok"]], "json")
    out = on_pty("jobs describe evil --format 'value(template.template.containers[0].image)'")
    assert.are.equal("img" .. SHOWN .. "\r\n", out)
    out = on_pty("jobs describe evil --format 'table(template.template.containers[0].image:label=IMAGE,name)'")
    -- the column is as wide as the escaped text: the name lines up after it
    assert.are.equal(("IMAGE%s  NAME\r\nimg%s  projects/test-project/locations/us-central1/jobs/evil\r\n")
      :format((" "):rep(#SHOWN + 3 - 5), SHOWN), out)
  end)

  it("in every form, as sent through a pipe", function()
    local job = assert(client:get_job("evil"))
    for _, f in ipairs({ "json", "yaml", "value(template.template.containers[0].image)",
      "table(name,template.template.containers[0].image:label=IMAGE)" }) do
      local out, rc = in_pipe("jobs describe evil --format " .. h.sh_quote(f))
      assert.are.equal(0, rc, out)
      assert.are.equal(format.render(assert(format.parse(f)), job), out, f)
    end
    local out = in_pipe("jobs describe evil")
    contains(out, "img" .. EVIL .. "\n", "Image")
    contains(out, "E=" .. EVIL .. "\n", "Env")
  end)

  it("in an error message the server sends, escaped on a terminal and as sent in a pipe", function()
    -- the emulator quotes the container an override names
    local args = "jobs execute evil --container " .. h.sh_quote("\27]0;x\7\194\155") .. " --args=x"
    local out, rc = on_pty(args)
    assert.are.equal(3, rc, out)
    contains(out, [[container '\x1b]0;x\x07\xc2\x9b' does not exist]], "the error")
    assert_inert(out, "the error")
    out, rc = in_pipe(args, true)
    assert.are.equal(3, rc, out)
    contains(out, "container '\27]0;x\7\194\155' does not exist", "the error")
  end)

  it("in a task's logs, escaped on a terminal and as sent in a pipe", function()
    local out, rc = on_pty("jobs executions logs " .. execution)
    assert.are.equal(0, rc, out)
    contains(out, [[task 0  \x1b]0;title\x07\x1b]52;c;ZXZpbA==\x07\x1b[2J\xc2\x9bred]] .. "\r\n", "logs")
    assert_inert(out, "logs")
    out, rc = in_pipe("jobs executions logs " .. execution)
    assert.are.equal(0, rc, out)
    contains(out, "task 0  \27]0;title\7\27]52;c;ZXZpbA==\7\27[2J\194\155red\n", "logs")
  end)

  it("in the --wait outcome, escaped on a terminal and as sent in a pipe", function()
    local out, rc = on_pty("jobs execute wd --wait")
    assert.are.equal(1, rc, out)
    contains(out, "workingDir '/nonexistent" .. SHOWN .. "' is not a directory", "the outcome")
    assert_inert(out, "the outcome")
    out, rc = in_pipe("jobs execute wd --wait", true)
    assert.are.equal(1, rc, out)
    contains(out, "workingDir '/nonexistent" .. EVIL .. "' is not a directory", "the outcome")
  end)

  it("in list tables, escaped on a terminal before the columns are measured", function()
    local chunk = [[require("cloudrun.cli.common").table({ "A", "B" }, { { "\27[2J\255", "x" }, { "y", "z" } })]]
    local out, rc = h.run(("script -qec %s /dev/null"):format(h.sh_quote(LUA .. " -e " .. h.sh_quote(chunk))))
    assert.are.equal(0, rc, out)
    assert.are.equal("A            B\r\n\\x1b[2J\\xff  x\r\ny            z\r\n", out)
    out = h.run(LUA .. " -e " .. h.sh_quote(chunk))
    assert.are.equal("A      B\n\27[2J\255  x\ny      z\n", out)
  end)

  describe("from a server that sends labels and invalid UTF-8", function()
    local dir, server

    setup(function()
      dir = h.tmpdir()
      h.write(dir .. "/evil", '{"name":"projects/p/locations/r/jobs/file-evil","labels":{"tag":"\27]0;t\7\255"},'
        .. '"template":{"template":{"containers":[{"image":"i\255\194\155"}]}}}')
      local s = h.spawn(("%s --port 0 --answers %s"):format(h.sh_quote(HOSTILE), h.sh_quote(dir)),
        "^hostile listening on 127%.0%.0%.1:(%d+)$")
      server = { stop = function() h.stop(s.pid, s.pipe) end, host = "127.0.0.1:" .. s.match }
    end)

    teardown(function()
      if server then server.stop() end
      os.execute("rm -rf " .. h.sh_quote(dir))
    end)

    it("escapes them on a terminal and passes them on in a pipe", function()
      local at = "CLOUD_RUN_EMULATOR_HOST=" .. server.host
      local out, rc = on_pty("jobs describe file-evil --project p --region r", at)
      assert.are.equal(0, rc, out)
      contains(out, [[tag=\x1b]0;t\x07\xff]] .. "\r\n", "Labels")
      contains(out, [[i\xff\xc2\x9b]] .. "\r\n", "Image")
      assert_inert(out, "describe")
      out, rc = in_pipe("jobs describe file-evil --project p --region r", false, at)
      assert.are.equal(0, rc, out)
      contains(out, "tag=\27]0;t\7\255\n", "Labels")
      contains(out, "i\255\194\155\n", "Image")
    end)
  end)
end)
