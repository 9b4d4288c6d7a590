-- client:wait_all against the emulator: many executions of two jobs followed at
-- once, results in the order given, `failed` counting the failed, the
-- cancelled and what could not be waited for (its err in its slot), and the
-- requests it costs (the emulator's /emulator/v1/stats) held below a ceiling of
-- rounds x jobs that a GET per execution would exceed; its timeout; a list the
-- API refuses; the jobs/- wildcard given up when a region's other jobs crowd
-- it; the CLI's `jobs executions wait`; and, in the LuaJIT build, the same from
-- a handler inside nginx, whose worker goes on serving meanwhile.
local cloudrun = require("cloudrun")
local core = require("cloudrun.core")
local h = require("helpers")
local harness = require("nginx_harness")

-- sleeps $D seconds, then exits $RC
local SCRIPT = 'sleep "${D:-0}"; exit "${RC:-0}"'

-- At most how many rounds wait's rhythm fits in `seconds` (0.2 s first, then each
-- interval at least 1.4 times the last, up to max_interval): the first round at
-- once, another after each pause that ends within the time.
local function max_rounds(seconds, interval, max_interval)
  local t, n, iv = 0, 1, interval or 0.2
  while t + iv <= seconds do
    t, n = t + iv, n + 1
    iv = math.min(max_interval or 10, iv * 1.4)
  end
  return n
end

local function stats(emu)
  local s = h.control(emu.host, "GET", "stats")
  return s.calls.ListExecutions or 0, s.calls.GetExecution or 0
end

describe("client:wait_all", function()
  local emu, client

  setup(function()
    emu = h.emulator{ jobs = { h.sh_job("alpha", SCRIPT), h.sh_job("beta", SCRIPT), h.sh_job("noise", "true") },
                      args = { "--max-processes", "64" } }
    client = h.client(emu.host)
  end)

  teardown(function()
    if emu then emu.stop() end
  end)

  it("follows 40 executions of two jobs for a few lists a round, in order, counting what failed", function()
    local list = {}
    for i = 1, 40 do
      list[i] = { job = i % 2 == 0 and "alpha" or "beta", env = { D = tostring((i % 5) * 0.4) } }
    end
    list[9] = { job = "alpha", env = { D = "0.5", RC = "3" } }   -- fails
    list[17] = { job = "beta", env = { D = "30" } }              -- cancelled below
    list[25] = { job = "nosuch" }                                -- run_jobs' err, passed through
    local ops, nfailed = client:run_jobs(list, { in_flight = 16 })
    assert.are.equal(1, nfailed)
    ops[41] = "alpha-bogus"                                       -- never existed
    assert(client:cancel_execution(ops[17].execution))

    h.control(emu.host, "DELETE", "stats")
    local seen = {}
    local t0 = core.monotonic()
    local executions, failed = client:wait_all(ops, { timeout = 60, on_progress = function(e, i)
      assert.are.equal(ops[i].execution, e.name)
      seen[i] = (seen[i] or 0) + 1
    end })
    local took = core.monotonic() - t0
    local lists, gets = stats(emu)

    assert.are.equal(41, #executions)
    assert.are.equal(4, failed) -- the failing one, the cancelled one, the err passed through, the bogus name
    for i = 1, 40 do
      local e = executions[i]
      if i == 25 then
        assert.are.equal(ops[25], e)
        assert.are.equal("NOT_FOUND", e.code)
      else
        assert.is_false(cloudrun.is_error(e), tostring(e))
        assert.are.equal(ops[i].execution, e.name)
        assert.is_truthy(e.completionTime)
        assert.is_truthy(seen[i], "on_progress never saw entry " .. i)
        if i == 9 then
          assert.are.equal(1, e.failedCount)
          assert.is_false(require("cloudrun.wait").succeeded(e))
        elseif i == 17 then
          assert.are.equal(1, e.cancelledCount)
          assert.is_false(require("cloudrun.wait").succeeded(e))
        else
          assert.are.equal(1, e.succeededCount)
        end
      end
    end
    assert.is_true(cloudrun.is_error(executions[41]))
    assert.are.equal("NOT_FOUND", executions[41].code)

    -- one ListExecutions (the region's jobs/-, or one per job) a round, or a GET for a last
    -- execution: at most 2 a round, and one GET for the bogus name
    local rounds = max_rounds(took)
    local ceiling = 2 * rounds + 1
    print(("\n  # 40 executions of 2 jobs, %.1f s: %d ListExecutions + %d GetExecution (ceiling %d, rounds <= %d)")
      :format(took, lists, gets, ceiling, rounds))
    assert.is_true(lists + gets <= ceiling, ("%d + %d requests in %d rounds"):format(lists, gets, rounds))
    -- a GET per pending execution a round would have taken one per execution in the first round alone
    assert.is_true(ceiling < 40, "the ceiling is no proof: " .. ceiling)
    assert.is_true(lists >= 1)
  end)

  it("takes names short and full, Executions, run_job results and deduplicated keys, each slot its own", function()
    local a = assert(client:run_job("alpha", { env = { D = "0.3" } }))
    local b = assert(client:run_job("beta"))
    local full = a.execution
    local short = full:match("[^/]+$")
    local e_b = assert(client:get_execution(b.execution))
    local list = { short, full, e_b, { execution = full, deduplicated = true }, b }
    local executions, failed = client:wait_all(list, { timeout = 30 })
    assert.are.equal(0, failed)
    assert.are.equal(5, #executions)
    for i, want in ipairs({ full, full, b.execution, full, b.execution }) do
      assert.are.equal(want, executions[i].name)
      assert.are.equal(1, executions[i].succeededCount)
    end
    assert.are.same({}, (client:wait_all({})))
  end)

  it("follows another region's executions by their full names, with a list of their own", function()
    local there = h.client(emu.host, { region = "europe-west1" })
    local job = h.sh_job("alpha", SCRIPT)
    job.name = nil
    local made = assert(there:create_job("alpha", job))
    if not made.done then assert(there:wait_operation(made, 30)) end
    local ops = {}
    for i = 1, 3 do
      ops[#ops + 1] = assert(client:run_job("alpha", { env = { D = tostring(i * 0.3) } }))
      ops[#ops + 1] = assert(there:run_job("alpha", { env = { D = tostring(i * 0.3) } })).execution
    end
    assert.matches("/locations/europe%-west1/", ops[2])
    local executions, failed = client:wait_all(ops, { timeout = 30 })
    assert.are.equal(0, failed)
    for i = 1, 6 do
      assert.are.equal(ops[i].execution or ops[i], executions[i].name)
      assert.are.equal(1, executions[i].succeededCount)
    end
  end)

  it("gives NOT_FOUND to an execution deleted while it is waited for, from a GET when no list shows it", function()
    local ops = {}
    for i = 1, 3 do ops[i] = assert(client:run_job("alpha", { env = { D = i == 2 and "30" or "1" } })) end
    local deleted = false
    local executions, failed = client:wait_all(ops, { timeout = 30, on_progress = function(_, i)
      if i == 2 and not deleted then
        deleted = true
        assert(client:delete_execution(ops[2].execution))
      end
    end })
    assert.is_true(deleted)
    assert.are.equal(1, failed)
    assert.are.equal(1, executions[1].succeededCount)
    assert.are.equal("NOT_FOUND", executions[2].code)
    assert.are.equal(1, executions[3].succeededCount)
  end)

  it("gives a slot DEADLINE_EXCEEDED at its timeout, and the others their Execution", function()
    local slow = assert(client:run_job("alpha", { env = { D = "30" } }))
    local quick = assert(client:run_job("beta"))
    local t0 = core.monotonic()
    local executions, failed = client:wait_all({ slow, quick }, { timeout = 1 })
    local took = core.monotonic() - t0
    assert.are.equal(1, failed)
    assert.are.equal("DEADLINE_EXCEEDED", executions[1].code)
    assert.matches(slow.execution, executions[1].message, 1, true)
    assert.are.equal(1, executions[2].succeededCount)
    assert.is_true(took >= 1 and took < 3, "took " .. took .. " s")
    assert(client:cancel_execution(slow.execution))
  end)

  it("follows with a GET each the executions of a list the API refuses", function()
    local ops = {}
    for i = 1, 3 do ops[i] = assert(client:run_job("alpha", { env = { D = "0.3" } })) end
    h.control(emu.host, "DELETE", "stats")
    h.control(emu.host, "POST", "faults", { method = "ListExecutions", fault = "permission_denied", count = 1 })
    local executions, failed = client:wait_all(ops, { timeout = 30 })
    assert.are.equal(0, failed)
    for i = 1, 3 do assert.are.equal(ops[i].execution, executions[i].name) end
    local lists, gets = stats(emu)
    assert.are.equal(1, lists) -- refused once, never asked again
    assert.is_true(gets >= 3)
  end)

  it("lists job by job when the region's other jobs crowd the jobs/- list", function()
    local ops = {}
    for _ = 1, 2 do
      ops[#ops + 1] = assert(client:run_job("alpha", { env = { D = "2" } }))
      ops[#ops + 1] = assert(client:run_job("beta", { env = { D = "2" } }))
    end
    -- 300 newer executions of another job: the first wildcard sweep finds none of ours
    local noise = {}
    for i = 1, 300 do noise[i] = { job = "noise" } end
    local _, nfailed = client:run_jobs(noise, { in_flight = 32 })
    assert.are.equal(0, nfailed)
    h.control(emu.host, "DELETE", "stats")
    local t0 = core.monotonic()
    local executions, failed = client:wait_all(ops, { timeout = 30 })
    local took = core.monotonic() - t0
    assert.are.equal(0, failed)
    for i = 1, 4 do assert.are.equal(ops[i].execution, executions[i].name) end
    local lists, gets = stats(emu)
    local rounds = max_rounds(took)
    -- the first round: a few wildcard pages and a GET each; then one list per job a round
    -- (the wildcard kept would take 4 pages + 4 GETs every round)
    print(("\n  # 4 executions behind 300 of another job, %.1f s: %d ListExecutions + %d GetExecution (rounds <= %d)")
      :format(took, lists, gets, rounds))
    assert.is_true(lists + gets <= 8 + 2 * (rounds - 1), ("%d + %d requests in %d rounds"):format(lists, gets, rounds))
  end)

  it("gives up with the API's error when five polls in a row get no answer, timeout or not", function()
    local dead = assert(cloudrun.client{ project = "p", region = "r", endpoint = "http://127.0.0.1:9",
                                         credentials = false, retry = { attempts = 1 } })
    local fast = { interval = 0.01, max_interval = 0.01 }
    local t0 = os.time()
    local e, err = dead:wait("alpha-abcde", fast)
    assert.is_nil(e)
    assert.are.equal("UNAVAILABLE", err.code)
    local results, failed = dead:wait_all({ "alpha-abcde", "beta-fghij" }, fast)
    assert.are.equal(2, failed)
    assert.are.equal("UNAVAILABLE", results[1].code)
    assert.are.equal("UNAVAILABLE", results[2].code)
    assert.is_true(os.time() - t0 < 30)
  end)

  it("raises on misuse, naming the argument", function()
    assert.has_error(function() client:wait_all("alpha-x") end,
      "bad argument #1 to 'wait_all' (list of Operations, Executions or execution names expected, got string)")
    assert.has_error(function() client:wait_all({ "alpha-x", 42 }) end,
      "bad argument #1 to 'wait_all' (entry 2: an Operation from run_job, an Execution or an execution name "
      .. "expected, got number)")
    assert.has_error(function() client:wait_all({ "" }) end,
      "bad argument #1 to 'wait_all' (entry 1: an Operation from run_job, an Execution or an execution name "
      .. "expected, got an empty string)")
    assert.has_error(function() client:wait_all({}, { timout = 1 }) end, "wait_all: unknown option 'timout'")
    assert.has_error(function() client:wait_all({}, { timeout = "1" }) end,
      "wait_all: option 'timeout' must be a number (got string)")
  end)
end)

describe("cloudrun jobs executions wait", function()
  local emu, dir
  local CLI = h.sh_quote(h.bin .. "/cloudrun")

  local function env()
    return ("CLOUD_RUN_EMULATOR_HOST=%s GOOGLE_CLOUD_PROJECT=test-project CLOUDSDK_RUN_REGION=us-central1 ")
      :format(emu.host)
  end

  local function run(args)
    return h.run(("%s%s %s 2>&1"):format(env(), CLI, args))
  end

  local function start(job, vars)
    local client = h.client(emu.host)
    local op = assert(client:run_job(job, { env = vars }))
    return op.execution:match("[^/]+$")
  end

  setup(function()
    dir = h.tmpdir()
    emu = h.emulator{ jobs = { h.sh_job("alpha", SCRIPT), h.sh_job("beta", SCRIPT) } }
  end)

  teardown(function()
    if emu then emu.stop() end
    if dir then os.execute("rm -rf " .. h.sh_quote(dir)) end
  end)

  it("exits 0 when every one succeeded, a line for each as it ends", function()
    local a, b = start("alpha", { D = "0.5" }), start("beta", { D = "1" })
    local out, rc = run("jobs executions wait " .. a .. " " .. b)
    assert.are.equal(0, rc, out)
    assert.matches("Execution [" .. a .. "] has successfully completed: 1 task(s) succeeded.", out, 1, true)
    assert.matches("Execution [" .. b .. "] has successfully completed: 1 task(s) succeeded.", out, 1, true)
    assert.matches("2 execution(s): 2 succeeded, 0 failed.", out, 1, true)
  end)

  it("exits 1 when one failed, and prints the Executions with --format", function()
    local a, b = start("alpha", { D = "0.2" }), start("beta", { RC = "4" })
    local out, rc = run("jobs executions wait " .. a .. " " .. b)
    assert.are.equal(1, rc, out)
    assert.matches("Execution [" .. b .. "] failed: ", out, 1, true)
    assert.matches("cloudrun jobs executions logs " .. b, out, 1, true)
    out, rc = h.run(("%s%s jobs executions wait %s %s --format 'value(name)' 2>/dev/null")
      :format(env(), CLI, a, b))
    assert.are.equal(1, rc, out)
    assert.matches("/executions/" .. a .. "\n", out, 1, true)
    assert.matches("/executions/" .. b .. "\n", out, 1, true)
  end)

  it("exits 1 for one execution that failed, as execute --wait", function()
    local out, rc = run("jobs executions wait " .. start("alpha", { RC = "2" }))
    assert.are.equal(1, rc, out)
    assert.matches("task 0: exit code 2", out, 1, true)
  end)

  it("exits 3 naming an execution that does not exist, after waiting for the others", function()
    local a = start("alpha", { D = "0.2" })
    local out, rc = run("jobs executions wait " .. a .. " alpha-nosuch")
    assert.are.equal(3, rc, out)
    assert.matches("ERROR: alpha-nosuch: NOT_FOUND", out, 1, true)
    assert.matches("Execution [" .. a .. "] has successfully completed", out, 1, true)
  end)

  it("exits 2 without an execution", function()
    local out, rc = run("jobs executions wait")
    assert.are.equal(2, rc, out)
    assert.matches("takes EXECUTION...", out, 1, true)
  end)

  it("exits 130 on Ctrl-C, naming the executions that go on", function()
    local a, b = start("alpha", { D = "30" }), start("beta", { D = "30" })
    local out_file, rc_file, pid_file = dir .. "/wait.out", dir .. "/wait.rc", dir .. "/wait.pid"
    h.write(dir .. "/wait.sh", ("%s%s jobs executions wait %s %s > %s 2>&1 & echo $! > %s; wait $!; echo $? > %s\n")
      :format(env(), CLI, a, b, h.sh_quote(out_file), h.sh_quote(pid_file), h.sh_quote(rc_file)))
    os.execute("sh " .. h.sh_quote(dir .. "/wait.sh") .. " &")
    local pid
    for _ = 1, 50 do
      pid = (h.read(pid_file) or ""):match("%d+")
      if pid then break end
      os.execute("sleep 0.1")
    end
    assert.is_truthy(pid, "the wait did not start")
    os.execute("sleep 1.5")
    os.execute("kill -INT " .. pid)
    local status
    for _ = 1, 100 do
      status = h.read(rc_file)
      if status and status:find("%d") then break end
      os.execute("sleep 0.1")
    end
    if not (status and status:find("%d")) then os.execute("kill " .. pid .. " 2>/dev/null") end
    assert.are.equal("130", (status or ""):match("%d+"), h.read(out_file))
    local out = h.read(out_file)
    assert.matches("cloudrun jobs executions wait " .. a .. " " .. b, out, 1, true)
    -- the executions go on
    local client = h.client(emu.host)
    assert.is_nil(assert(client:get_execution(a)).completionTime)
    client:cancel_execution(a)
    client:cancel_execution(b)
  end)
end)

if harness.available() then
  -- wait_all from a handler: executions of two jobs started with run_jobs and followed on
  -- cosockets, sleeping with ngx.sleep; the answer is failed, then each slot's outcome.
  local LOCATIONS = [[
    location = /wait_all {
      content_by_lua_block {
        local cloudrun = require("cloudrun")
        local client = assert(cloudrun.client{ project = "test-project", region = "us-central1",
                                               endpoint = "http://%s", credentials = false })
        local list = {}
        for i = 1, 12 do
          list[i] = { job = i %% 2 == 0 and "alpha" or "beta", env = { D = tostring((i %% 4) * 0.5) } }
        end
        list[5].env.RC = "3"
        local ops = client:run_jobs(list, { in_flight = 4 })
        ops[13] = "alpha-bogus"
        local executions, failed = client:wait_all(ops, { timeout = 30 })
        local out = { "failed " .. failed }
        for i, e in ipairs(executions) do
          out[#out + 1] = i .. " " .. (cloudrun.is_error(e) and e.code
            or (e.name == ops[i].execution and e.completionTime and "done " .. e.succeededCount or "?"))
        end
        ngx.say(table.concat(out, "\n"))
      }
    }
  ]]

  describe("client:wait_all inside nginx", function()
    local emu, dir, nginx

    setup(function()
      emu = h.emulator{ jobs = { h.sh_job("alpha", SCRIPT), h.sh_job("beta", SCRIPT) } }
      dir = h.tmpdir()
      nginx = harness.start(dir, LOCATIONS:format(emu.host))
    end)

    teardown(function()
      if nginx then nginx.stop() end
      if emu then emu.stop() end
      if dir then os.execute("rm -rf " .. h.sh_quote(dir)) end
    end)

    it("follows executions of two jobs from a handler, and the worker serves others meanwhile", function()
      h.control(emu.host, "DELETE", "stats")
      local res, took_file = dir .. "/wait_all.out", dir .. "/wait_all.time"
      -- /wait_all in the background; /ping on the same (only) worker while it waits
      local out = h.run(("( curl -sS -m 60 -o %s -w '%%{time_total}' http://127.0.0.1:%d/wait_all > %s ) & "
        .. "sleep 1.2; curl -sS -m 5 -o /dev/null -w '%%{time_total}' http://127.0.0.1:%d/ping; wait"):format(
        h.sh_quote(res), nginx.port, h.sh_quote(took_file), nginx.port))
      local ping, took = tonumber(out), tonumber(h.read(took_file))
      assert.is_truthy(took, h.read(took_file))
      assert.is_truthy(ping, out)
      assert.is_true(ping < 0.5, "/ping waited " .. tostring(ping) .. " s behind wait_all")
      local lines = {}
      for l in (h.read(res) or ""):gmatch("[^\n]+") do lines[#lines + 1] = l end
      assert.are.equal("failed 2", lines[1], h.read(res))
      for i = 1, 12 do
        assert.are.equal(i .. (i == 5 and " done 0" or " done 1"), lines[i + 1])
      end
      assert.are.equal("13 NOT_FOUND", lines[14])
      local s = h.control(emu.host, "GET", "stats")
      local lists, gets = s.calls.ListExecutions or 0, s.calls.GetExecution or 0
      -- a list (or a GET for a last one) a round, at most 2 a round, and a GET for the bogus name
      print(("\n  # inside nginx, 12 executions of 2 jobs, %.1f s: %d ListExecutions + %d GetExecution, /ping %.1f ms")
        :format(took, lists, gets, ping * 1000))
      assert.is_true(lists + gets <= 2 * max_rounds(took) + 1, lists .. " + " .. gets)
      assert.is_nil(nginx.log():find("[error]", 1, true), nginx.log())
    end)
  end)
end
