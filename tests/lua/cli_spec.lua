-- The `cloudrun` command as a subprocess against the emulator: gcloud's
-- habits, and its exit statuses (0 ok, 1 execution failed, 2 usage, 3 API).
local h = require("helpers")

local CLI = h.sh_quote(h.bin .. "/cloudrun")

describe("cloudrun jobs execute", function()
  local emu, out

  local function run(args)
    return h.run(("CLOUD_RUN_EMULATOR_HOST=%s GOOGLE_CLOUD_PROJECT=test-project CLOUDSDK_RUN_REGION=us-central1 %s %s 2>&1")
      :format(emu.host, CLI, args))
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
    local stdout, rc = run("jobs execute record --wait --format json")
    assert.are.equal(0, rc, stdout)
    local e = require("cloudrun").json.decode(stdout)
    assert.are.equal(1, e.succeededCount)
    local described, rc2 = run("jobs executions describe " .. e.name:match("[^/]+$") .. " --format json")
    assert.are.equal(0, rc2, described)
    assert.are.equal(e.name, require("cloudrun").json.decode(described).name)
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

  local function run(args)
    return h.run(("CLOUD_RUN_EMULATOR_HOST=%s %s %s --project cli-project --region europe-west1 2>&1")
      :format(emu.host, CLI, args))
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

    stdout, rc = run("jobs executions delete " .. exec)
    assert.are.equal(0, rc, stdout)
    stdout, rc = run("jobs executions describe " .. exec)
    assert.are.equal(3, rc, stdout)
    assert.matches("NOT_FOUND", stdout, 1, true)
  end)

  it("cancels a running execution", function()
    local stdout, rc = run("jobs create slow --image x --command sleep --args 30")
    assert.are.equal(0, rc, stdout)
    stdout, rc = run("jobs execute slow --format json")
    assert.are.equal(0, rc, stdout)
    local exec = json.decode(stdout).name:match("[^/]+$")
    stdout, rc = run("jobs executions cancel " .. exec .. " --format json")
    assert.are.equal(0, rc, stdout)
    local e = json.decode(stdout)
    assert.are.equal(1, e.cancelledCount)
  end)

  it("deletes a job", function()
    assert.are.equal(0, select(2, run("jobs create gone --image x --command true")))
    local stdout, rc = run("jobs delete gone")
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
