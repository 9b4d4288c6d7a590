-- End to end: the Lua API against the real emulator on a loopback port. The
-- tasks are real processes; each writes what it saw (args, env) to files
-- that the assertions read.
local h = require("helpers")

-- Each task writes its argv and its CLOUD_RUN_*/FROM_*/SHARED/ID env to $OUT/task<i>.
local RECORD = [[
out="$OUT/task$CLOUD_RUN_TASK_INDEX"
: > "$out"
for a in "$@"; do printf 'arg=%s\n' "$a" >> "$out"; done
env | grep -E '^(CLOUD_RUN_|FROM_|SHARED=|ID=|EXTRA=)' | sort >> "$out"
exit "${EXIT_CODE:-0}"
]]

local function lines(text)
  local t = {}
  for l in (text or ""):gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

local function has(list, value)
  for _, v in ipairs(list) do if v == value then return true end end
  return false
end

local function completed(e)
  for _, c in ipairs(e.conditions or {}) do
    if c.type == "Completed" then return c end
  end
end

describe("against the emulator", function()
  local emu, client, out

  setup(function()
    out = h.tmpdir()
    emu = h.emulator{
      jobs = {
        h.sh_job("record", RECORD),
        h.sh_job("fail", RECORD),
        h.sh_job("sleepy", "sleep 5"),
        {
          name = "projects/test-project/locations/us-central1/jobs/missing-binary",
          template = { template = { maxRetries = 0, containers = { {
            image = "x", command = { "/nonexistent/bin/report" } } } } },
        },
      },
      env = { OUT = out, EXIT_CODE = "0" },
    }
    client = h.client(emu.host)
  end)

  teardown(function()
    if emu then emu.stop() end
    os.execute("rm -rf " .. h.sh_quote(out))
  end)

  it("runs a job with args and env overrides, and the task sees them", function()
    local op = assert(client:run_job("record", {
      args = { "manage.py", "job", "--id=42" },
      env = { ID = "42", SHARED = "override" },
    }))
    assert.matches("^projects/test%-project/locations/us%-central1/operations/", op.name)
    assert.matches("^projects/test%-project/locations/us%-central1/jobs/record/executions/record%-", op.execution)
    assert.is_not_true(op.done) -- the RunJob operation finishes with the execution
    assert.are.equal("type.googleapis.com/google.cloud.run.v2.Execution", op.metadata["@type"])

    local e = assert(client:wait(op, { timeout = 30 }))
    assert.are.equal(1, e.succeededCount)
    assert.are.equal(0, e.failedCount) -- omitted by the API (zero), read as 0
    assert.is_nil(rawget(e, "failedCount"))
    assert.are.equal("CONDITION_SUCCEEDED", completed(e).state)
    assert.is_string(e.completionTime)

    local seen = lines(h.read(out .. "/task0"))
    -- argv[0] is "sh" (from the job's command), then the overridden args replace "default-arg"
    assert.is_true(has(seen, "arg=manage.py"))
    assert.is_true(has(seen, "arg=job"))
    assert.is_true(has(seen, "arg=--id=42"))
    assert.is_false(has(seen, "arg=default-arg"))
    -- env is merged: the override wins, the job's own variables stay
    assert.is_true(has(seen, "ID=42"))
    assert.is_true(has(seen, "SHARED=override"))
    assert.is_true(has(seen, "FROM_JOB=job-value"))
    assert.is_true(has(seen, "CLOUD_RUN_JOB=record"))
    assert.is_true(has(seen, "CLOUD_RUN_TASK_INDEX=0"))
    assert.is_true(has(seen, "CLOUD_RUN_TASK_COUNT=1"))
    assert.is_true(has(seen, "CLOUD_RUN_TASK_ATTEMPT=0"))
    assert.is_true(has(seen, "CLOUD_RUN_EXECUTION=" .. op.execution:match("[^/]+$")))

    -- the operation is done now, with the final Execution as its response
    local final = assert(client:get_operation(op.name))
    assert.is_true(final.done)
    assert.are.equal(e.name, final.response.name)
  end)

  it("runs task_count tasks, each with its own index", function()
    local op = assert(client:run_job("record", { task_count = 3, env = { EXTRA = "x" } }))
    local e = assert(client:wait(op, { timeout = 30 }))
    assert.are.equal(3, e.taskCount)
    assert.are.equal(3, e.succeededCount)
    for i = 0, 2 do
      local seen = lines(h.read(out .. "/task" .. i))
      assert.is_true(has(seen, "CLOUD_RUN_TASK_INDEX=" .. i))
      assert.is_true(has(seen, "CLOUD_RUN_TASK_COUNT=3"))
      assert.is_true(has(seen, "arg=default-arg")) -- args untouched without an override
    end
  end)

  it("takes env as a list of {name=, value=} too, and numbers as values", function()
    local op = assert(client:run_job("record", { env = { { name = "ID", value = 7 }, { name = "EXTRA", value = "x" } },
                                                 task_count = 1, timeout = "10m" }))
    assert(client:wait(op, { timeout = 30 }))
    local seen = lines(h.read(out .. "/task0"))
    assert.is_true(has(seen, "ID=7"))
    assert.is_true(has(seen, "EXTRA=x"))
    local e = assert(client:get_execution(op.execution))
    assert.are.equal("600s", e.template.timeout)
  end)

  it("clears the job's args with clear_args", function()
    local op = assert(client:run_job("record", { clear_args = true }))
    assert(client:wait(op, { timeout = 30 }))
    local seen = lines(h.read(out .. "/task0"))
    assert.is_false(has(seen, "arg=default-arg"))
  end)

  it("returns a failed execution as what it is, not as an error", function()
    local op = assert(client:run_job("fail", { env = { EXIT_CODE = "3" } }))
    local progress = {}
    local e, err = client:wait(op, { timeout = 30, on_progress = function(x) progress[#progress + 1] = x end })
    assert.is_nil(err)
    assert.are.equal(1, e.failedCount)
    assert.are.equal(0, e.succeededCount)
    assert.is_nil(rawget(e, "succeededCount"))
    local c = completed(e)
    assert.are.equal("CONDITION_FAILED", c.state)
    assert.matches("exit code: 3", c.message, 1, true)
    assert.is_true(#progress >= 1)
    assert.are.equal(1, progress[#progress].failedCount)

    local final = assert(client:get_operation(op.name))
    assert.is_true(final.done)
    assert.is_table(final.error)
    assert.matches("exit code: 3", final.error.message, 1, true)
  end)

  it("reports a task whose command does not exist as a failed task", function()
    local op = assert(client:run_job("missing-binary"))
    local e = assert(client:wait(op, { timeout = 30 }))
    assert.are.equal(1, e.failedCount)
    assert.are.equal("CONDITION_FAILED", completed(e).state)
  end)

  it("gives up waiting with DEADLINE_EXCEEDED, leaving the execution running", function()
    local op = assert(client:run_job("sleepy"))
    local t0 = os.time()
    local e, err = client:wait(op, { timeout = 0.5 })
    assert.is_nil(e)
    assert.are.equal("DEADLINE_EXCEEDED", err.code)
    assert.matches(op.execution, err.message, 1, true)
    assert.is_true(os.time() - t0 <= 3)
  end)

  it("says NOT_FOUND, with Cloud Run's message, for an unknown job", function()
    local op, err = client:run_job("no-such-job", { args = { "x" } })
    assert.is_nil(op)
    assert.are.equal("NOT_FOUND", err.code)
    assert.are.equal(404, err.status)
    assert.is_false(err.retryable)
    assert.are.equal(
      "Resource 'no-such-job' of kind 'JOB' in region 'us-central1' in project 'test-project' does not exist.",
      err.message)
    assert.matches("^NOT_FOUND: Resource 'no%-such%-job'", tostring(err))
  end)

  it("rejects an override for a container the job does not have", function()
    local op, err = client:run_job("record", { container = "nope", args = { "x" } })
    assert.is_nil(op)
    assert.are.equal("INVALID_ARGUMENT", err.code)
  end)

  it("gets an execution by its short id too", function()
    local op = assert(client:run_job("record"))
    local short = op.execution:match("[^/]+$")
    local e = assert(client:wait(short, { timeout = 30 }))
    assert.are.equal(op.execution, e.name)
    local again = assert(client:get_execution(short))
    assert.are.equal(e.name, again.name)
  end)

  it("finds the emulator through CLOUD_RUN_EMULATOR_HOST, sending no credentials", function()
    local cmd = ("CLOUD_RUN_EMULATOR_HOST=%s GOOGLE_APPLICATION_CREDENTIALS=/nonexistent %s -e %s"):format(
      emu.host, h.sh_quote(h.bin .. "/cloudrun-lua"), h.sh_quote([[
        local c = assert(require("cloudrun").client{ project = "test-project", region = "us-central1" })
        local op = assert(c:run_job("record", { args = { "via-env" } }))
        local e = assert(c:wait(op, { timeout = 30 }))
        print(e.succeededCount)]]))
    local stdout, rc = h.run(cmd .. " 2>&1")
    assert.are.equal(0, rc, stdout)
    assert.are.equal("1\n", stdout)
  end)
end)

describe("execution tokens through the Lua API", function()
  local emu, client

  setup(function()
    emu = h.emulator{}
    client = h.client(emu.host)
  end)

  teardown(function()
    if emu then emu.stop() end
  end)

  it("create_job and update_job pass a token through, and it starts JOB-TOKEN once", function()
    local spec = h.sh_job("tokened", "exit 0")
    spec.startExecutionToken = "deploy-42"
    local op = assert(client:create_job("tokened", spec))
    assert.is_true(op.done)
    assert.are.equal("deploy-42", op.response.startExecutionToken)
    local name = "projects/test-project/locations/us-central1/jobs/tokened/executions/tokened-deploy-42"
    assert.are.equal(name, op.response.latestCreatedExecution.name)
    -- by its full name: a short id is read as JOB-xxxxx, and "tokened-deploy-42" would name job "tokened-deploy"
    local e = assert(client:wait(name, { timeout = 30 }))
    assert.are.equal(name, e.name)
    assert.are.equal(1, e.succeededCount)
    assert.are.equal("CONDITION_SUCCEEDED", assert(client:get_job("tokened")).terminalCondition.state)

    -- the same deployment again starts nothing; a new token (the commit, say) starts a new execution
    assert(client:update_job("tokened", spec))
    assert.are.equal(1, #assert(client:list_executions("tokened")).executions)
    spec.startExecutionToken = nil
    spec.runExecutionToken = "c0ffee1"
    op = assert(client:update_job("tokened", spec))
    assert.are.equal("c0ffee1", op.response.runExecutionToken)
    assert.is_nil(op.response.startExecutionToken)
    e = assert(client:wait(op.response.latestCreatedExecution.name, { timeout = 30 }))
    assert.matches("/executions/tokened%-c0ffee1$", e.name)
    assert.are.equal(1, e.succeededCount)
    assert.are.equal(2, #assert(client:list_executions("tokened")).executions)
  end)

  it("returns the emulator's refusal of a bad token as err, naming the field", function()
    local spec = h.sh_job("badtoken", "exit 0")
    spec.runExecutionToken = "Not_A_Label"
    local op, err = client:create_job("badtoken", spec)
    assert.is_nil(op)
    assert.are.equal("INVALID_ARGUMENT", err.code)
    assert.matches("job.run_execution_token", err.message, 1, true)
  end)
end)
