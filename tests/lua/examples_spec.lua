-- The examples as users run them, from the top of the tree against an
-- emulator loaded with examples/jobs.json: the cron line (examples/cron.sh),
-- the CI step (examples/ci.sh), the batch (examples/batch.lua), the
-- fan-out (examples/fanout.lua, one execution of N tasks each taking its
-- shard) and the grant (examples/grant.lua: a web app's account may run one
-- job), with their output and exit statuses.
local h = require("helpers")

local SRC = assert(os.getenv("CLOUDRUN_SOURCE_DIR"))

describe("the examples", function()
  local emu, logs, pipe, work

  setup(function()
    logs, work = h.tmpdir(), h.tmpdir()
    -- the jobs' commands (cloudrun-lua examples/...) run from the top of the tree
    local s = h.spawn(("PATH=%s:$PATH sh -c %s"):format(h.sh_quote(h.bin), h.sh_quote(
      ("cd %s && exec cloudrun emulator --port 0 --quiet --jobs examples/jobs.json --log-dir %s")
        :format(h.sh_quote(SRC), h.sh_quote(logs)))), "^cloudrun emulator listening on http://(.*)$")
    emu, pipe = { host = s.match, pid = s.pid }, s.pipe
  end)

  teardown(function()
    if emu then h.stop(emu.pid, pipe) end
    os.execute("rm -rf " .. h.sh_quote(logs) .. " " .. h.sh_quote(work))
  end)

  -- a shell in `work` with the build's commands first on PATH, aimed at the emulator
  local function sh(cmd)
    return h.run(("cd %s && export PATH=%s:$PATH CLOUD_RUN_EMULATOR_HOST=%s GOOGLE_CLOUD_PROJECT=demo-project "
      .. "CLOUDSDK_RUN_REGION=us-central1 && { %s; } 2>&1"):format(h.sh_quote(work), h.sh_quote(h.bin), emu.host, cmd))
  end

  local function client()
    return h.client(emu.host, { project = "demo-project" })
  end

  -- what the tasks of an execution printed (the emulator's logUri is a file:// URL)
  local function task_output(name)
    local e = assert(client():get_execution(name))
    local dir = assert(e.logUri:match("^file://(.*)$"))
    local out = {}
    for i = 0, e.taskCount - 1 do out[i] = h.read(dir:gsub("/$", "") .. "/task" .. i .. ".log") or "" end
    return out, e
  end

  it("cron.sh: the report for a record, and exit 1 when the execution fails", function()
    local out, rc = sh(h.sh_quote(SRC .. "/examples/cron.sh") .. " 42")
    assert.are.equal(0, rc, out)
    assert.matches("report 42: starting\n", out, 1, true)
    assert.matches("Execution %[report%-%w+%] has successfully completed", out)
    assert.matches("report 42: done\n", out, 1, true)
    local name = out:match("Execution %[(report%-%w+)%] created")
    local printed = task_output(name)
    assert.matches("args: manage.py job --id=42\n", printed[0], 1, true)
    assert.matches("report 42 done\n", printed[0], 1, true)

    out, rc = sh(h.sh_quote(SRC .. "/examples/cron.sh") .. " not-a-number")
    assert.are.equal(1, rc, out)
    assert.matches("task 0: exit code 2", out, 1, true)
    assert.matches("the execution FAILED", out, 1, true)
  end)

  it("ci.sh: deploys the image, runs the job once, fails the step when it fails", function()
    local out, rc = sh(h.sh_quote(SRC .. "/examples/ci.sh") .. " registry.example/app:abc123")
    assert.are.equal(0, rc, out)
    assert.matches("report job OK with registry.example/app:abc123 %(execution report%-%w+%)", out)
    local job = assert(client():get_job("report"))
    assert.are.equal("registry.example/app:abc123", job.template.template.containers[1].image)
    -- the job now fails: the step fails, and shows why
    assert(client():update_job("report", { template = { template = { containers = { {
      image = "registry.example/app:abc123", command = { "cloudrun-lua", "examples/manage.lua" }, args = { "oops" },
    } } } } }))
    out, rc = sh(h.sh_quote(SRC .. "/examples/ci.sh") .. " registry.example/app:bad")
    assert.are.equal(1, rc, out)
    assert.matches("::error::the report job failed with registry.example/app:bad (cloudrun exit 1)", out, 1, true)
    -- and puts it back
    assert(client():update_job("report", { template = { template = { containers = { {
      image = "us-docker.pkg.dev/demo-project/app/web:latest", command = { "cloudrun-lua", "examples/manage.lua" },
      args = { "job", "--id=1" }, env = { { name = "REPORT_FORMAT", value = "csv" } },
    } } } } }))
  end)

  it("batch.lua: an execution per id, every outcome reported, exit 1 when one failed", function()
    local out, rc = sh("cloudrun-lua " .. h.sh_quote(SRC .. "/examples/batch.lua") .. " 1 2 3 4 5")
    assert.are.equal(0, rc, out)
    for id = 1, 5 do assert.matches("id " .. id .. ": report%-%w+ succeeded", out) end
    assert.matches("5 of 5 execution(s) succeeded", out, 1, true)
    out, rc = sh("printf '7\\n\\nbad\\n8\\n' | BATCH_IN_FLIGHT=2 cloudrun-lua " .. h.sh_quote(SRC .. "/examples/batch.lua"))
    assert.are.equal(1, rc, out)
    assert.matches("id bad: report%-%w+ FAILED %(0 succeeded, 1 failed%)", out)
    assert.matches("2 of 3 execution(s) succeeded", out, 1, true)
  end)

  it("grant.lua: the web app's account may run the report job with overrides, and it runs", function()
    local out, rc = sh("cloudrun-lua " .. h.sh_quote(SRC .. "/examples/grant.lua"))
    assert.are.equal(0, rc, out)
    assert.matches("roles/run.jobsExecutorWithOverrides: serviceAccount:web@demo-project.iam.gserviceaccount.com\n",
      out, 1, true)
    assert.matches("the caller may: run.jobs.run, run.jobs.runWithOverrides\n", out, 1, true)
    assert.matches("report%-%w+: 1 of 1 task%(s%) succeeded", out)
    local policy = assert(client():get_iam_policy("report"))
    assert.are.same({ { role = "roles/run.jobsExecutorWithOverrides",
      members = { "serviceAccount:web@demo-project.iam.gserviceaccount.com" } } }, policy.bindings)
    -- again: already granted, the policy is left as it is (same etag), and the job runs again
    out, rc = sh("cloudrun-lua " .. h.sh_quote(SRC .. "/examples/grant.lua"))
    assert.are.equal(0, rc, out)
    assert.are.equal(policy.etag, assert(client():get_iam_policy("report")).etag)
    -- the same grant from the shell is a no-op too
    out, rc = sh("cloudrun jobs add-iam-policy-binding report "
      .. "--member=serviceAccount:web@demo-project.iam.gserviceaccount.com --role=roles/run.jobsExecutorWithOverrides")
    assert.are.equal(0, rc, out)
    assert.matches("Updated IAM policy for job [report].", out, 1, true)
  end)

  it("fanout.lua: one execution of N tasks, every item done by exactly one task", function()
    local out, rc = sh("cloudrun jobs execute fanout --tasks=3 --update-env-vars=ITEMS=11 --wait")
    assert.are.equal(0, rc, out)
    local name = out:match("Execution %[(fanout%-%w+)%] created")
    local printed, e = task_output(name)
    assert.are.equal(3, e.succeededCount)
    local seen, shares = {}, {}
    for i = 0, 2 do
      shares[i] = tonumber(printed[i]:match("task " .. i .. " of 3 %(attempt 0%): (%d+) of 11 item"))
      for id in printed[i]:gmatch("processed item (%d+)") do
        assert.is_nil(seen[id], "item " .. id .. " done twice")
        seen[id] = i
      end
    end
    assert.are.same({ [0] = 3, 4, 4 }, shares)
    for id = 1, 11 do assert.is_not_nil(seen[tostring(id)], "item " .. id .. " not done") end
    assert.are.equal(0, seen["1"])
    assert.are.equal(2, seen["11"])
  end)
end)
