-- The whole Jobs surface from Lua against the emulator: a script creates a
-- job, runs it with overrides, follows it with progress, reads its tasks'
-- exit codes and logs, pages through lists, cancels and deletes.
local h = require("helpers")

local function completed(r)
  for _, c in ipairs(r.conditions or {}) do
    if c.type == "Completed" then return c end
  end
end

local function sh_spec(script, task_count, max_retries)
  return {
    template = {
      taskCount = task_count or 1,
      template = {
        maxRetries = max_retries or 0,
        containers = { { image = "example/x", command = { "/bin/sh", "-c", script, "sh" } } },
      },
    },
  }
end

describe("the Jobs surface", function()
  local emu, client

  setup(function()
    emu = h.emulator()
    client = h.client(emu.host)
  end)

  teardown(function()
    if emu then emu.stop() end
  end)

  it("creates, gets, updates, lists and deletes jobs", function()
    local op = assert(client:create_job("crud", sh_spec("exit 0")))
    assert.is_true(op.done)
    assert.are.equal("type.googleapis.com/google.cloud.run.v2.Job", op.response["@type"])
    local job = assert(client:get_job("crud"))
    assert.are.equal("projects/test-project/locations/us-central1/jobs/crud", job.name)
    assert.are.equal("1", job.generation) -- int64 travel as strings

    op = assert(client:update_job("crud", sh_spec("exit 0", 3)))
    assert.are.equal(3, op.response.template.taskCount)
    assert.are.equal(3, assert(client:get_job("crud")).template.taskCount)

    local _, err = client:create_job("crud", sh_spec("exit 0"))
    assert.are.equal("ALREADY_EXISTS", err.code)

    local v = assert(client:create_job("validated", sh_spec("exit 0"), { validate_only = true }))
    assert.is_truthy(v)
    _, err = client:get_job("validated")
    assert.are.equal("NOT_FOUND", err.code)

    assert(client:delete_job("crud"))
    _, err = client:get_job("crud")
    assert.are.equal("NOT_FOUND", err.code)
  end)

  it("pages through jobs with list_jobs and each_jobs", function()
    for i = 1, 5 do assert(client:create_job("page-" .. i, sh_spec("exit 0"))) end
    local first = assert(client:list_jobs{ page_size = 2 })
    assert.are.equal(2, #first.jobs)
    assert.is_string(first.nextPageToken)
    local names = {}
    for job in client:each_jobs{ page_size = 2 } do names[#names + 1] = job.name:match("[^/]+$") end
    local pages = 0
    for _, n in ipairs(names) do if n:match("^page%-") then pages = pages + 1 end end
    assert.are.equal(5, pages)
  end)

  it("follows an execution with progress, and reads its tasks' exit codes and logs", function()
    assert(client:create_job("tasks", sh_spec('echo "task $CLOUD_RUN_TASK_INDEX says $MSG"; exit $CLOUD_RUN_TASK_INDEX', 3)))
    local op = assert(client:run_job("tasks", { env = { MSG = "hi" } }))
    local seen = {}
    local e = assert(client:wait(op, { timeout = 30, on_progress = function(x) seen[#seen + 1] = x end }))
    assert.are.equal(1, e.succeededCount) -- task 0 exits 0, tasks 1 and 2 fail
    assert.are.equal(2, e.failedCount)
    assert.are.equal("CONDITION_FAILED", completed(e).state)
    assert.is_true(#seen >= 1)
    assert.are.equal(e.failedCount, seen[#seen].failedCount)

    local tasks = {}
    for t in client:each_tasks(op.execution, { page_size = 2 }) do tasks[(t.index or 0) + 1] = t end
    assert.are.equal(3, #tasks)
    for i = 0, 2 do
      local t = tasks[i + 1]
      assert.are.equal(i, t.lastAttemptResult.exitCode or 0)
      local path = assert(t.logUri:match("^file://(.*)$"))
      assert.matches("task " .. i .. " says hi", h.read(path), 1, true)
    end
    local one = assert(client:get_task(tasks[2].name:match("[^/]+$")))
    assert.are.equal(tasks[2].name, one.name)
  end)

  it("lists executions of one job, and of all jobs", function()
    assert(client:create_job("many", sh_spec("exit 0")))
    local ops = {}
    for i = 1, 3 do ops[i] = assert(client:run_job("many")) end
    for i = 1, 3 do assert(client:wait(ops[i], { timeout = 30 })) end
    local list = assert(client:list_executions("many"))
    assert.are.equal(3, #list.executions)
    assert.are.equal(ops[3].execution, list.executions[1].name) -- newest first
    local all = 0
    for _ in client:each_executions(nil, { page_size = 2 }) do all = all + 1 end
    assert.is_true(all >= 3)
  end)

  it("cancels a running execution; wait returns it as cancelled", function()
    assert(client:create_job("long", sh_spec("sleep 30")))
    local op = assert(client:run_job("long"))
    -- wait until it runs
    for _ = 1, 100 do
      local e = assert(client:get_execution(op.execution))
      if (e.runningCount or 0) > 0 then break end
      require("cloudrun.core").sleep(0.05)
    end
    local cop = assert(client:cancel_execution(op.execution))
    assert.is_truthy(cop.name)
    local e = assert(client:wait(op, { timeout = 30 }))
    assert.are.equal(1, e.cancelledCount)
    assert.are.equal("CONDITION_FAILED", completed(e).state)
    local _, err = client:cancel_execution(op.execution)
    assert.are.equal("FAILED_PRECONDITION", err.code)
  end)

  it("waits on an operation with wait_operation", function()
    assert(client:create_job("waited", sh_spec("sleep 0.2")))
    local op = assert(client:run_job("waited"))
    local done = assert(client:wait_operation(op, 10))
    assert.is_true(done.done)
    assert.are.equal(op.execution, done.response.name)
  end)

  it("deletes an execution", function()
    assert(client:create_job("del", sh_spec("exit 0")))
    local op = assert(client:run_job("del"))
    assert(client:wait(op, { timeout = 30 }))
    assert(client:delete_execution(op.execution))
    local _, err = client:get_execution(op.execution)
    assert.are.equal("NOT_FOUND", err.code)
  end)

  it("retries a failed task with CLOUD_RUN_TASK_ATTEMPT counting up", function()
    -- fails on attempt 0, succeeds on attempt 1
    assert(client:create_job("flaky", sh_spec('echo "attempt $CLOUD_RUN_TASK_ATTEMPT"; [ "$CLOUD_RUN_TASK_ATTEMPT" = 1 ]', 1, 1)))
    local op = assert(client:run_job("flaky"))
    local e = assert(client:wait(op, { timeout = 30 }))
    assert.are.equal(1, e.succeededCount)
    assert.are.equal(1, e.retriedCount)
    local task = assert(client:list_tasks(op.execution)).tasks[1]
    assert.are.equal(1, task.retried)
    local log = h.read(task.logUri:match("^file://(.*)$"))
    assert.matches("attempt 0", log, 1, true)
    assert.matches("attempt 1", log, 1, true)
  end)

  it("kills a task at its timeout and reports it", function()
    assert(client:create_job("slowpoke", sh_spec("sleep 30")))
    local op = assert(client:run_job("slowpoke", { timeout = 1 }))
    local e = assert(client:wait(op, { timeout = 30 }))
    assert.are.equal(1, e.failedCount)
    assert.matches("timeout", completed(e).message, 1, true)
    local final = assert(client:get_operation(op))
    assert.are.equal(4, final.error.code) -- DEADLINE_EXCEEDED, as Cloud Run reports a task timeout
  end)

  it("lists operations", function()
    local list = assert(client:list_operations{ page_size = 2 })
    assert.are.equal(2, #list.operations)
    assert.matches("^projects/test%-project/locations/us%-central1/operations/", list.operations[1].name)
    local n = 0
    for _ in client:each_operations{ page_size = 3 } do n = n + 1 end
    assert.is_true(n >= 3)
  end)

  it("iterators raise their err table, so a loop never ends as if the list were complete", function()
    local unreachable = h.client("127.0.0.1:9")
    local seen = 0
    local ok, err = pcall(function()
      for _ in unreachable:each_jobs{ retry = { attempts = 1 } } do seen = seen + 1 end
    end)
    assert.is_false(ok)
    assert.are.equal(0, seen)
    assert.are.equal("UNAVAILABLE", err.code)
    assert.matches("127.0.0.1:9", err.message, 1, true)
    assert.matches("UNAVAILABLE", tostring(err), 1, true)

    ok, err = pcall(function()
      for _ in client:each_tasks("nosuchjob-abcde") do seen = seen + 1 end
    end)
    assert.is_false(ok)
    assert.are.equal("NOT_FOUND", err.code)
    assert.are.equal(404, err.status)
    ok, err = pcall(function()
      for _ in client:each_executions("nosuchjob") do seen = seen + 1 end
    end)
    assert.is_false(ok)
    assert.are.equal("NOT_FOUND", err.code)
    assert.are.equal(0, seen)

    -- a failure after the first page: the items before it came, then the error
    assert(client:create_job("paged-a", sh_spec("true")))
    assert(client:create_job("paged-b", sh_spec("true")))
    local items = 0
    ok, err = pcall(function()
      for _ in client:each_jobs{ page_size = 1, retry = { attempts = 2, initial = 0.05 } } do
        items = items + 1
        if items == 1 then
          h.control(emu.host, "POST", "faults", { method = "ListJobs", fault = "unavailable", count = 10 })
        end
      end
    end)
    h.control(emu.host, "DELETE", "faults")
    assert.is_false(ok)
    assert.are.equal(1, items)
    assert.are.equal("UNAVAILABLE", err.code)
  end)

  it("raises on wrong arguments to the surface methods", function()
    local cases = {
      function() client:get_job(1) end,
      function() client:list_jobs("x") end,
      function() client:list_jobs{ page_sise = 2 } end,
      function() client:list_jobs{ page_size = -1 } end,
      function() client:create_job("x", "spec") end,
      function() client:delete_job("x", { etag = 5 }) end,
      function() client:get_execution("x-abcde", { retry = { attempts = 0 } }) end,
      function() client:wait_operation("x", -1) end,
    }
    for i, f in ipairs(cases) do
      local ok = pcall(f)
      assert.is_false(ok, "case " .. i .. " did not raise")
    end
  end)
end)
