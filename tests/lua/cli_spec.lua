-- The `cloudrun` command as a subprocess against the emulator: gcloud's
-- habits, and its exit statuses (0 ok, 1 execution failed, 2 usage, 3 API).
local h = require("helpers")

local CLI = h.sh_quote(h.bin .. "/cloudrun")

describe("cloudrun jobs execute", function()
  local emu, out

  -- stdout and stderr together, or (stdout_only) stdout alone
  local function run(args, stdout_only)
    return h.run(("CLOUD_RUN_EMULATOR_HOST=%s GOOGLE_CLOUD_PROJECT=test-project CLOUDSDK_RUN_REGION=us-central1 %s %s %s")
      :format(emu.host, CLI, args, stdout_only and "2>/dev/null" or "2>&1"))
  end

  setup(function()
    out = h.tmpdir()
    emu = h.emulator{
      jobs = {
        h.sh_job("record", 'printf "%s\\n" "$@" > "$OUT/args"; echo "ID=$ID" >> "$OUT/args"; exit "${FAIL:-0}"'),
      },
      env = { OUT = out },
    }
  end)

  teardown(function()
    if emu then emu.stop() end
    os.execute("rm -rf " .. h.sh_quote(out))
  end)

  it("runs with --args and --update-env-vars and waits with --wait", function()
    local stdout, rc = run("jobs execute record --args=job,--id=7 --update-env-vars=ID=7 --wait")
    assert.are.equal(0, rc, stdout)
    assert.matches("has successfully completed", stdout, 1, true)
    assert.are.equal("job\n--id=7\nID=7\n", h.read(out .. "/args"))
  end)

  it("exits 1 when the execution fails with --wait", function()
    local stdout, rc = run("jobs execute record --update-env-vars=FAIL=4 --wait")
    assert.are.equal(1, rc, stdout)
    assert.matches("failed", stdout, 1, true)
  end)

  it("prints the execution as JSON with --format json", function()
    local stdout, rc = run("jobs execute record --wait --format json", true)
    assert.are.equal(0, rc, stdout)
    local e = require("cloudrun").json.decode(stdout)
    assert.are.equal(1, e.succeededCount)
    local described, rc2 = run("jobs executions describe " .. e.name:match("[^/]+$") .. " --format json", true)
    assert.are.equal(0, rc2, described)
    assert.are.equal(e.name, require("cloudrun").json.decode(described).name)
  end)

  -- issue 24: each cloudrun is a process of its own, so the second finds the key by listing
  it("starts one execution per --idempotency-key: the second run reports the first one's execution", function()
    local function stats() return h.control(emu.host, "GET", "stats").calls end
    local key = ("order-%d"):format(os.time())
    local first, rc = run("jobs execute record --async --update-env-vars=ID=k --idempotency-key " .. key)
    assert.are.equal(0, rc, first)
    local id = first:match("Execution %[(record%-%w+)%] created%.")
    assert.is_string(id, first)
    local before = stats()
    local again, rc2 = run("jobs execute record --async --idempotency-key " .. key .. " --format json")
    assert.are.equal(0, rc2, again)
    assert.matches("Execution [" .. id .. "] already exists for idempotency key [" .. key .. "]: nothing started.",
      again, 1, true)
    local after = stats()
    assert.are.equal(before.RunJob or 0, after.RunJob or 0)
    assert.are.equal((before.ListExecutions or 0) + 1, after.ListExecutions)
    local printed = require("cloudrun").json.decode(again:match("(%b{})"))
    assert.is_true(printed.deduplicated)
    assert.are.equal("/executions/" .. id, printed.execution:sub(-#id - 12))
    -- --wait follows the one execution, and its task saw the key
    local waited, rc3 = run("jobs execute record --wait --idempotency-key " .. key)
    assert.are.equal(0, rc3, waited)
    assert.matches("Execution [" .. id .. "] already exists", waited, 1, true)
    assert.matches("has successfully completed", waited, 1, true)
    assert.are.equal(after.RunJob or 0, stats().RunJob or 0)
    -- another key starts another
    local other, rc4 = run("jobs execute record --async --idempotency-key " .. key .. "-2")
    assert.are.equal(0, rc4, other)
    assert.is_nil(other:find(id, 1, true), other)
    local usage, rc5 = run("jobs execute record --idempotency-key=")
    assert.are.equal(2, rc5, usage)
    assert.matches("--idempotency-key needs a key", usage, 1, true)
  end)

  it("returns at once with --async", function()
    local stdout, rc = run("jobs execute record --async")
    assert.are.equal(0, rc, stdout)
    assert.matches("Execution %[record%-%w+%] created", stdout)
  end)

  it("exits 3 with the API's message for an unknown job", function()
    local stdout, rc = run("jobs execute nope --wait")
    assert.are.equal(3, rc, stdout)
    assert.matches("NOT_FOUND", stdout, 1, true)
    assert.matches("does not exist", stdout, 1, true)
  end)

  local usage = {
    { "no job", "jobs execute" },
    { "an unknown flag", "jobs execute record --colour" },
    { "a bad --tasks", "jobs execute record --tasks=-2" },
    { "a bad --task-timeout", "jobs execute record --task-timeout=soon" },
    { "--wait with --async", "jobs execute record --wait --async" },
    { "an unknown command", "jobs frobnicate" },
  }
  for _, case in ipairs(usage) do
    it("exits 2 for " .. case[1], function()
      local stdout, rc = run(case[2])
      assert.are.equal(2, rc, stdout)
      assert.matches("cloudrun: ", stdout, 1, true)
    end)
  end
end)

describe("cloudrun jobs create/describe/list and executions", function()
  local emu, out
  local json = require("cloudrun").json

  local function run(args, stdout_only)
    return h.run(("CLOUD_RUN_EMULATOR_HOST=%s %s %s --project cli-project --region europe-west1 %s")
      :format(emu.host, CLI, args, stdout_only and "2>/dev/null" or "2>&1"))
  end

  setup(function()
    out = h.tmpdir()
    emu = h.emulator{ env = { OUT = out } }
  end)

  teardown(function()
    if emu then emu.stop() end
    os.execute("rm -rf " .. h.sh_quote(out))
  end)

  it("creates a job from gcloud's flags and runs it", function()
    local stdout, rc = run("jobs create made --image example/app:1 --command /bin/sh "
      .. "--args='^;^-c;echo \"$GREETING $CLOUD_RUN_TASK_INDEX\" >> \"$OUT/made\"' --tasks 2 --max-retries 0 "
      .. "--task-timeout 5m --set-env-vars GREETING=hello")
    assert.are.equal(0, rc, stdout)
    assert.matches("Job [made] has successfully been created.", stdout, 1, true)

    stdout, rc = run("jobs describe made --format json")
    assert.are.equal(0, rc, stdout)
    local job = json.decode(stdout)
    assert.are.equal("projects/cli-project/locations/europe-west1/jobs/made", job.name)
    assert.are.equal(2, job.template.taskCount)
    assert.are.equal("300s", job.template.template.timeout)
    assert.are.equal(0, job.template.template.maxRetries)
    assert.are.same({ "/bin/sh" }, job.template.template.containers[1].command)

    stdout, rc = run("jobs execute made --wait")
    assert.are.equal(0, rc, stdout)
    local seen = h.read(out .. "/made")
    assert.matches("hello 0", seen, 1, true)
    assert.matches("hello 1", seen, 1, true)

    stdout, rc = run("jobs list")
    assert.are.equal(0, rc, stdout)
    assert.matches("^JOB%s+REGION", stdout)
    assert.matches("made%s+europe%-west1", stdout)

    stdout, rc = run("jobs executions list --job made --format json")
    assert.are.equal(0, rc, stdout)
    local list = json.decode(stdout)
    assert.are.equal(1, #list)
    local exec = list[1].name:match("[^/]+$")

    stdout, rc = run("jobs executions tasks list --execution " .. exec)
    assert.are.equal(0, rc, stdout)
    assert.matches("TASK%s+INDEX%s+STATUS%s+EXIT CODE", stdout)
    assert.matches(exec:gsub("%-", "%%-") .. "%-task1%s+1%s+CONDITION_SUCCEEDED%s+0%s", stdout)

    stdout, rc = run("jobs executions describe " .. exec)
    assert.are.equal(0, rc, stdout)
    assert.matches("Tasks:%s+2 %(2 succeeded", stdout)

    stdout, rc = run("jobs executions delete " .. exec .. " --quiet")
    assert.are.equal(0, rc, stdout)
    stdout, rc = run("jobs executions describe " .. exec)
    assert.are.equal(3, rc, stdout)
    assert.matches("NOT_FOUND", stdout, 1, true)
  end)

  it("cancels a running execution", function()
    local stdout, rc = run("jobs create slow --image x --command sleep --args 30")
    assert.are.equal(0, rc, stdout)
    stdout, rc = run("jobs execute slow --format json", true)
    assert.are.equal(0, rc, stdout)
    local exec = json.decode(stdout).name:match("[^/]+$")
    stdout, rc = run("jobs executions cancel " .. exec .. " --format json")
    assert.are.equal(0, rc, stdout)
    local e = json.decode(stdout)
    assert.are.equal(1, e.cancelledCount)
  end)

  it("deletes a job", function()
    assert.are.equal(0, select(2, run("jobs create gone --image x --command true")))
    local stdout, rc = run("jobs delete gone --quiet")
    assert.are.equal(0, rc, stdout)
    stdout, rc = run("jobs describe gone")
    assert.are.equal(3, rc, stdout)
  end)

  it("needs --image to create a job", function()
    local stdout, rc = run("jobs create nope")
    assert.are.equal(2, rc, stdout)
    assert.matches("--image", stdout, 1, true)
  end)
end)

describe("cloudrun --help", function()
  local emu, out

  -- stdout and stderr apart, and the exit status
  local function run3(args, env)
    local errfile = out .. "/stderr"
    local stdout, rc = h.run(("%s CLOUD_RUN_EMULATOR_HOST=%s GOOGLE_CLOUD_PROJECT=test-project "
      .. "CLOUDSDK_RUN_REGION=us-central1 %s %s 2>%s </dev/null"):format(env or "", emu.host, CLI, args, h.sh_quote(errfile)))
    return stdout, h.read(errfile) or "", rc
  end

  local function calls(rpc)
    return h.control(emu.host, "GET", "stats").calls[rpc] or 0
  end

  setup(function()
    out = h.tmpdir()
    emu = h.emulator{ jobs = { h.sh_job("keep", "exit 0") } }
  end)

  teardown(function()
    if emu then emu.stop() end
    os.execute("rm -rf " .. h.sh_quote(out))
  end)

  local groups = {
    { "help", "jobs execute JOB" },
    { "--help", "auth describe" },
    { "-h", "jobs executions tasks list" },
    { "jobs --help", "executions cancel EXECUTION" },
    { "jobs executions --help", "tasks describe TASK" },
    { "jobs executions tasks --help", "list" },
    { "auth --help", "print-access-token" },
    { "help jobs", "execute JOB" },
  }
  for _, case in ipairs(groups) do
    it("'cloudrun " .. case[1] .. "' lists the commands and exits 0", function()
      local stdout, stderr, rc = run3(case[1])
      assert.are.equal(0, rc, stderr)
      assert.matches("^usage: cloudrun ", stdout)
      assert.matches("commands:", stdout, 1, true)
      assert.matches(case[2], stdout, 1, true)
    end)
  end

  it("prints a command's help anywhere on the line and does nothing else", function()
    local runs, deletes = calls("RunJob"), calls("DeleteJob")
    for _, line in ipairs({ "jobs delete keep --help", "jobs delete --help keep", "--help jobs delete keep",
      "jobs delete keep -h --quiet", "jobs execute keep --help", "jobs execute keep --wait -h",
      "jobs execute -h", "help jobs execute", "jobs executions delete keep-abcde --help --quiet" }) do
      local stdout, stderr, rc = run3(line)
      assert.are.equal(0, rc, line .. ": " .. stderr)
      assert.matches("^usage: cloudrun jobs ", stdout)
      assert.matches("global flags:", stdout, 1, true)
      assert.are.equal("", stderr, line)
    end
    assert.are.equal(runs, calls("RunJob"))
    assert.are.equal(deletes, calls("DeleteJob"))
    local stdout, _, rc = run3("jobs describe keep --format json")
    assert.are.equal(0, rc)
    assert.matches("/jobs/keep", stdout, 1, true)
  end)

  it("shows each command's every flag in its help, from the table the parser reads", function()
    for _, module in ipairs({ "jobs", "executions", "auth" }) do
      for _, command in ipairs(require("cloudrun.cli." .. module).commands) do
        local words = table.concat(command.path, " ")
        local stdout, stderr, rc = run3(words .. " --help")
        assert.are.equal(0, rc, stderr)
        assert.matches("usage: cloudrun " .. words:gsub("%-", "%%-"), stdout)
        for _, f in ipairs(command.flags or {}) do
          assert.matches("--" .. f[1]:gsub("%-", "%%-"), stdout)
        end
        -- and a flag it does not list is refused, pointing at that help
        local _, err2, rc2 = run3(words .. " --no-such-flag")
        assert.are.equal(2, rc2, err2)
        assert.matches("unknown flag --no-such-flag", err2, 1, true)
        assert.matches("cloudrun " .. words .. " --help", err2, 1, true)
      end
    end
  end)

  it("names a missing or unknown command and exits 2", function()
    local stdout, stderr, rc = run3("jobs")
    local _
    assert.are.equal(2, rc)
    assert.are.equal("", stdout)
    assert.matches("'jobs' needs a command", stderr, 1, true)
    _, stderr, rc = run3("jobs frobnicate")
    assert.are.equal(2, rc)
    assert.matches("unknown command 'jobs frobnicate'", stderr, 1, true)
    _, stderr, rc = run3("help jobs frobnicate")
    assert.are.equal(2, rc)
    assert.matches("unknown command 'jobs frobnicate'", stderr, 1, true)
  end)
end)

describe("cloudrun deleting", function()
  local emu, out

  local function run3(args, env)
    local errfile = out .. "/stderr"
    local stdout, rc = h.run(("%s CLOUD_RUN_EMULATOR_HOST=%s GOOGLE_CLOUD_PROJECT=test-project "
      .. "CLOUDSDK_RUN_REGION=us-central1 %s %s 2>%s </dev/null"):format(env or "", emu.host, CLI, args, h.sh_quote(errfile)))
    return stdout, h.read(errfile) or "", rc
  end

  local function exists(job)
    local _, _, rc = run3("jobs describe " .. job)
    return rc == 0
  end

  setup(function()
    out = h.tmpdir()
    emu = h.emulator{ jobs = { h.sh_job("doomed", "exit 0"), h.sh_job("asked", "exit 0") } }
  end)

  teardown(function()
    if emu then emu.stop() end
    os.execute("rm -rf " .. h.sh_quote(out))
  end)

  it("refuses without a terminal and without --quiet, and says to add --quiet", function()
    local stdout, stderr, rc = run3("jobs delete doomed")
    local _
    assert.are.equal(2, rc, stderr)
    assert.are.equal("", stdout)
    assert.matches("--quiet", stderr, 1, true)
    assert.matches("not in an interactive session", stderr, 1, true)
    assert.is_true(exists("doomed"))

    local op = assert(h.client(emu.host):run_job("doomed"))
    local exec = op.execution:match("[^/]+$")
    _, stderr, rc = run3("jobs executions delete " .. exec)
    assert.are.equal(2, rc, stderr)
    assert.matches("--quiet", stderr, 1, true)
    assert(h.client(emu.host):get_execution(exec))

    _, stderr, rc = run3("jobs executions delete " .. exec .. " -q")
    assert.are.equal(0, rc, stderr)
    assert.is_nil(h.client(emu.host):get_execution(exec))
  end)

  it("deletes with --quiet anywhere on the line, or with CLOUDSDK_CORE_DISABLE_PROMPTS=1", function()
    local stdout, stderr, rc = run3("--quiet jobs delete doomed")
    local _
    assert.are.equal(0, rc, stderr)
    assert.matches("Deleted job [doomed].", stderr, 1, true)
    assert.are.equal("", stdout)
    assert.is_false(exists("doomed"))
    assert(h.client(emu.host):create_job("doomed", h.sh_job("doomed", "exit 0")))
    _, stderr, rc = run3("jobs delete doomed", "CLOUDSDK_CORE_DISABLE_PROMPTS=1")
    assert.are.equal(0, rc, stderr)
    assert.is_false(exists("doomed"))
  end)

  it("asks on a terminal, and 'n' keeps the job while 'y' deletes it", function()
    local _, has_script = h.run("command -v script >/dev/null")
    if has_script ~= 0 then pending("util-linux's script(1) is needed for a terminal") return end
    local function on_terminal(answer, args)
      -- script(1) runs the command on a new pseudo-terminal and feeds it our stdin
      return h.run(("printf '%s\n' | CLOUD_RUN_EMULATOR_HOST=%s GOOGLE_CLOUD_PROJECT=test-project "
        .. "CLOUDSDK_RUN_REGION=us-central1 script -qec %s /dev/null 2>&1"):format(answer, emu.host,
        h.sh_quote(CLI .. " " .. args)))
    end
    local text, rc = on_terminal("n", "jobs delete asked")
    assert.are.equal(2, rc, text)
    assert.matches("Job [asked] will be deleted.", text, 1, true)
    assert.matches("Do you want to continue (Y/n)?", text, 1, true)
    assert.is_true(exists("asked"))
    text, rc = on_terminal("y", "jobs delete asked")
    assert.are.equal(0, rc, text)
    assert.matches("Deleted job [asked].", text, 1, true)
    assert.is_false(exists("asked"))
  end)
end)

describe("cloudrun list commands, when the API cannot answer", function()
  local emu, dir

  setup(function()
    dir = h.tmpdir()
    emu = h.emulator()
  end)

  teardown(function()
    if emu then emu.stop() end
    os.execute("rm -rf " .. h.sh_quote(dir))
  end)

  local lists = { "jobs list", "jobs executions list", "jobs executions tasks list --execution job-abcde" }

  local function expect_failure(env, args, pattern)
    local errfile = dir .. "/stderr"
    local stdout, rc = h.run(("env %s %s %s --project p --region r 2>%s"):format(env, CLI, args,
      h.sh_quote(errfile)))
    local stderr = h.read(errfile) or ""
    assert.are.equal(3, rc, args .. ": " .. stdout .. stderr)
    assert.are.equal("", stdout, args) -- no empty table passed off as an answer
    assert.matches("^ERROR: ", stderr)
    assert.matches(pattern, stderr, 1, true)
  end

  for _, args in ipairs(lists) do
    it("'" .. args .. "' exits 3 with no credentials", function()
      -- nothing in the ADC chain: no variable, no gcloud file, a metadata server that refuses at once
      expect_failure("-u CLOUD_RUN_EMULATOR_HOST -u GOOGLE_APPLICATION_CREDENTIALS -u CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN "
        .. "CLOUDSDK_CONFIG=" .. h.sh_quote(dir) .. " HOME=" .. h.sh_quote(dir) .. " GCE_METADATA_HOST=127.0.0.1:9",
        args, "credentials")
    end)

    it("'" .. args .. "' exits 3 when the endpoint is unreachable", function()
      expect_failure("CLOUD_RUN_EMULATOR_HOST=127.0.0.1:9", args, "UNAVAILABLE")
    end)
  end

  it("exits 3 for a missing parent", function()
    local env = "CLOUD_RUN_EMULATOR_HOST=" .. emu.host
    expect_failure(env, "jobs executions list --job nosuch", "NOT_FOUND")
    expect_failure(env, "jobs executions tasks list --execution nosuch-abcde", "NOT_FOUND")
  end)
end)

describe("cloudrun emulator", function()
  it("exits 2 naming the file for a malformed --jobs file", function()
    local dir = h.tmpdir()
    h.write(dir .. "/jobs.json", '{"jobs": [ {"name": 5} ]')
    local stdout, rc = h.run(CLI .. " emulator --port 0 --jobs " .. h.sh_quote(dir .. "/jobs.json") .. " 2>&1")
    os.execute("rm -rf " .. h.sh_quote(dir))
    assert.are.equal(2, rc, stdout)
    assert.matches("jobs.json", stdout, 1, true)
  end)
end)
