-- `cloudrun jobs logs read|tail JOB` (issue 22) as a subprocess against the emulator: a job's
-- logs across its executions, through entries:list with the filter gcloud writes.
local h = require("helpers")

local CLI = h.sh_quote(h.bin .. "/cloudrun")

describe("cloudrun.cli.logs' pieces", function()
  local logs = require("cloudrun.cli.logs")

  it("writes gcloud's filter for a job, the user's terms first in parentheses", function()
    assert.are.equal('(severity>=ERROR OR textPayload:"x") AND resource.type = "cloud_run_job" AND '
      .. 'resource.labels.job_name = "j" AND resource.labels.location = "l" AND resource.labels.project_id = "p" AND '
      .. 'severity >= DEFAULT AND timestamp >= "2026-01-01T00:00:00.000000Z"',
      logs.job_filter("p", "l", "j", 'severity>=ERROR OR textPayload:"x"', "2026-01-01T00:00:00.000000Z"))
    assert.are.equal('resource.type = "cloud_run_job" AND resource.labels.job_name = "j" AND '
      .. 'resource.labels.location = "l" AND resource.labels.project_id = "p" AND severity >= DEFAULT',
      logs.job_filter("p", "l", "j"))
  end)

  local times = {
    { "1970-01-01T00:00:00Z", 0 },
    { "2000-02-29T00:00:00Z", 951782400 },
    { "2000-03-01T00:00:00.25Z", 951868800.25 },
    { "2024-12-31T23:59:59.123456789Z", 1735689599.123456789 },
    { "1969-12-31T23:59:59Z", -1 },
  }
  for _, case in ipairs(times) do
    it("reads " .. case[1], function()
      assert.is_true(math.abs(logs.seconds(case[1]) - case[2]) < 1e-6)
    end)
  end

  it("writes a time to the microsecond, never later than it, and reads only UTC's Z form", function()
    assert.are.equal("1970-01-01T00:00:00.000000Z", logs.rfc3339(0))
    assert.are.equal("2000-03-01T00:00:00.250000Z", logs.rfc3339(951868800.25))
    assert.are.equal("2024-12-31T23:59:59.123456Z", logs.rfc3339(logs.seconds("2024-12-31T23:59:59.123456789Z")))
    for _, bad in ipairs({ "2026-01-01T00:00:00+01:00", "2026-01-01 00:00:00Z", "2026-01-01T00:00:00.Z", "", "7" }) do
      assert.is_nil(logs.seconds(bad), bad)
    end
  end)
end)

describe("cloudrun jobs logs against the emulator", function()
  local emu, dir

  local function env()
    return ("CLOUD_RUN_EMULATOR_HOST=%s GOOGLE_CLOUD_PROJECT=test-project CLOUDSDK_RUN_REGION=us-central1 ")
      :format(emu.host)
  end

  local function run(args, stdout_only)
    return h.run(env() .. CLI .. " " .. args .. (stdout_only and " 2>/dev/null" or " 2>&1"))
  end

  -- A name as a Lua pattern matches it (an execution's id has a '-').
  local function lit(s)
    return (s:gsub("%p", "%%%0"))
  end

  local function lines(out)
    local list = {}
    for l in out:gmatch("[^\n]+") do list[#list + 1] = l end
    return list
  end

  -- Runs the job to its end; its execution's id.
  local function execute(job, flags)
    local out, rc = run("jobs execute " .. job .. " --wait " .. (flags or ""))
    assert.are.equal(0, rc, out)
    return assert(out:match("Execution %[(" .. job .. "%-%w+)%] created"), out)
  end

  setup(function()
    dir = h.tmpdir()
    emu = h.emulator{ jobs = {
      h.sh_job("chat", 'echo "hello $CLOUD_RUN_TASK_INDEX"; sleep 0.3; echo "bye $CLOUD_RUN_TASK_INDEX"',
        { taskCount = 2 }),
      h.sh_job("era", 'echo "$WHEN"'),
      h.sh_job("other", "echo not this job"),
    } }
  end)

  teardown(function()
    if emu then emu.stop() end
    os.execute("rm -rf " .. h.sh_quote(dir))
  end)

  describe("read", function()
    local first, second

    setup(function()
      first = execute("chat")
      execute("other")
      second = execute("chat", "--tasks 1")
    end)

    it("prints every execution's lines oldest first: time, execution, task, text", function()
      local out, rc = run("jobs logs read chat", true)
      assert.are.equal(0, rc, out)
      local l = lines(out)
      assert.are.equal(6, #l, out)
      for i = 1, 4 do assert.matches("^%d%d%d%d%-%d%d%-%d%dT[%d:.]+Z  " .. lit(first) .. "  task [01]  %a+ [01]$", l[i]) end
      assert.matches("^[^ ]+  " .. lit(second) .. "  task 0  hello 0$", l[5])
      assert.matches("^[^ ]+  " .. lit(second) .. "  task 0  bye 0$", l[6])
      for i = 2, 6 do assert.is_true(l[i - 1]:match("^%S+") <= l[i]:match("^%S+"), out) end
      assert.is_nil(out:find("not this job", 1, true))
      -- --order desc without --limit: the same lines; the full resource name names the same job
      local same = run("jobs logs read chat --order desc", true)
      assert.are.equal(out, same)
      same = run("jobs logs read projects/test-project/locations/us-central1/jobs/chat", true)
      assert.are.equal(out, same)
    end)

    it("keeps the newest N with --limit (printed oldest first), the oldest N with --order asc", function()
      local all = lines(run("jobs logs read chat", true))
      local out, rc = run("jobs logs read chat --limit 2", true)
      assert.are.equal(0, rc, out)
      assert.are.same({ all[5], all[6] }, lines(out))
      out, rc = run("jobs logs read chat --limit=3 --order asc", true)
      assert.are.equal(0, rc, out)
      assert.are.same({ all[1], all[2], all[3] }, lines(out))
      out = run("jobs logs read chat --limit 1 --order desc --format 'value(textPayload)'", true)
      assert.are.equal("bye 0\n", out)
    end)

    it("narrows with --log-filter: one task, a text, an OR", function()
      local out, rc = run([[jobs logs read chat --log-filter 'labels."run.googleapis.com/task_index"="1"']], true)
      assert.are.equal(0, rc, out)
      local l = lines(out)
      assert.are.equal(2, #l, out)
      assert.matches("  " .. lit(first) .. "  task 1  hello 1$", l[1])
      assert.matches("  " .. lit(first) .. "  task 1  bye 1$", l[2])
      out = run([[jobs logs read chat --log-filter 'textPayload:BYE AND NOT labels."run.googleapis.com/task_index"="1"']],
        true)
      assert.are.equal(2, #lines(out), out)
      assert.matches("task 0  bye 0\n.*task 0  bye 0\n$", out)
      out = run(([[jobs logs read chat --log-filter 'labels."run.googleapis.com/execution_name"="%s" OR textPayload:"hello 1"']])
        :format(second), true)
      assert.are.equal(3, #lines(out), out)
      out = run("jobs logs read chat --log-filter 'severity>=ERROR'", true)
      assert.are.equal("", out)
    end)

    it("prints the entries as a document with --format", function()
      local out, rc = run("jobs logs read chat --format json --limit 2", true)
      assert.are.equal(0, rc, out)
      local entries = require("cloudrun").json.decode(out)
      assert.are.equal(2, #entries)
      assert.are.equal("hello 0", entries[1].textPayload)
      assert.are.equal(second, entries[2].labels["run.googleapis.com/execution_name"])
      assert.are.equal("chat", entries[2].resource.labels.job_name)
    end)

    it("reports what it cannot do: a term the emulator does not know is exit 3 naming it; bad flags exit 2",
      function()
        local out, rc = run("jobs logs read chat --log-filter 'jsonPayload.message:x'")
        assert.are.equal(3, rc, out)
        assert.matches("INVALID_ARGUMENT", out, 1, true)
        assert.matches('"jsonPayload.message" is not a field the emulator understands', out, 1, true)
        for _, bad in ipairs({ "--order up", "--limit 0", "--freshness soon", "--freshness=-1h", "--follow" }) do
          out, rc = run("jobs logs read chat " .. bad)
          assert.are.equal(2, rc, bad .. ": " .. out)
          assert.matches("cloudrun: ", out, 1, true)
        end
        out, rc = run("jobs logs read")
        assert.are.equal(2, rc, out)
        out, rc = run("jobs logs tail chat --format json")
        assert.are.equal(2, rc, out)
        assert.matches("does not take --format", out, 1, true)
      end)
  end)

  it("leaves out lines older than --freshness, unless --log-filter bounds the time itself", function()
    local old = execute("era", "--update-env-vars WHEN=old")
    os.execute("sleep 3")
    local new = execute("era", "--update-env-vars WHEN=new")
    local out, rc = run("jobs logs read era --freshness 2s", true)
    assert.are.equal(0, rc, out)
    assert.matches("^[^ ]+  " .. lit(new) .. "  task 0  new\n$", out)
    out = run("jobs logs read era", true) -- a day
    assert.matches("  " .. lit(old) .. "  task 0  old\n[^\n]+  " .. lit(new) .. "  task 0  new\n$", out)
    local since = [[--log-filter 'timestamp>="2000-01-01T00:00:00Z"']]
    out = run("jobs logs read era " .. since, true)
    assert.are.equal(2, #lines(out), out)
    out = run("jobs logs read era --freshness 2s " .. since, true) -- given: applied as well
    assert.matches("^[^ ]+  " .. lit(new) .. "  task 0  new\n$", out)
  end)

  it("tail prints the lines of executions started after it, each once, until Ctrl-C (exit 130)", function()
    execute("chat") -- before the tail: not shown
    os.execute("sleep 2")
    local out_file, rc_file, pid_file = dir .. "/tail.out", dir .. "/tail.rc", dir .. "/tail.pid"
    -- in the background, its pid and (when it ends) its exit status in files
    h.write(dir .. "/tail.sh", ("%s%s jobs logs tail chat --log-filter 'textPayload:e' > %s 2>&1 & echo $! > %s; "
      .. "wait $!; echo $? > %s\n"):format(env(), CLI, h.sh_quote(out_file), h.sh_quote(pid_file), h.sh_quote(rc_file)))
    os.execute("sh " .. h.sh_quote(dir .. "/tail.sh") .. " &")
    local pid
    for _ = 1, 50 do
      pid = (h.read(pid_file) or ""):match("%d+")
      if pid then break end
      os.execute("sleep 0.1")
    end
    assert.is_truthy(pid, "the tail did not start")
    os.execute("sleep 1")
    local id = execute("chat")
    local text
    for _ = 1, 100 do -- the lines come within a poll or two
      text = h.read(out_file) or ""
      if select(2, text:gsub("\n", "")) >= 4 then break end
      os.execute("sleep 0.1")
    end
    os.execute("sleep 2.5") -- another poll: nothing printed twice
    os.execute("kill -INT " .. pid)
    local status
    for _ = 1, 100 do
      status = h.read(rc_file)
      if status and status:find("%d") then break end
      os.execute("sleep 0.1")
    end
    if not (status and status:find("%d")) then os.execute("kill " .. pid .. " 2>/dev/null") end -- never left behind
    assert.are.equal("130", (status or ""):match("%d+"), "the tail did not end on SIGINT")
    text = h.read(out_file)
    local l = lines(text)
    assert.are.equal(4, #l, text)
    for _, line in ipairs(l) do assert.matches("^%S+  " .. lit(id) .. "  task [01]  %a+ [01]$", line) end
    assert.are.equal(1, select(2, text:gsub("hello 0", "")))
    assert.are.equal(1, select(2, text:gsub("bye 1", "")))
  end)
end)
