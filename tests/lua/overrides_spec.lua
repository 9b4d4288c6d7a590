-- Several containers in one execution (run_job's `containers =`, execute's
-- `--container NAME` groups) and the hints a PERMISSION_DENIED gets: the
-- wire body held to RunJobRequest's fields, cr-standin (which refuses a body
-- Google would refuse) seeing what the Lua API and the CLI send, the
-- emulator's answers, and the messages over the Lua API and the CLI.
local h = require("helpers")
local cloudrun = require("cloudrun")
local json = cloudrun.json

local CLI = h.sh_quote(h.bin .. "/cloudrun")
local STANDIN = os.getenv("CR_STANDIN")

-- google.cloud.run.v2.RunJobRequest and the messages in it, as @google-cloud/run 4.2.0's
-- job.proto and k8s.min.proto have them (proto3 JSON names); {T} is a repeated T.
local MESSAGES = {
  RunJobRequest = { name = "string", validateOnly = "bool", etag = "string", overrides = "Overrides" },
  Overrides = { containerOverrides = { "ContainerOverride" }, taskCount = "int32", timeout = "Duration" },
  ContainerOverride = { name = "string", args = { "string" }, env = { "EnvVar" }, clearArgs = "bool" },
  EnvVar = { name = "string", value = "string", valueSource = "EnvVarSource" },
}

-- nil when v is a valid proto3 JSON value of `kind`, else what is wrong and where.
local function invalid(v, kind, path)
  if type(kind) == "table" then
    if type(v) ~= "table" then return path .. ": a list expected" end
    for i, item in ipairs(v) do
      local bad = invalid(item, kind[1], path .. "[" .. (i - 1) .. "]")
      if bad then return bad end
    end
    for k in pairs(v) do
      if type(k) ~= "number" then return path .. ": a list expected, it has key " .. tostring(k) end
    end
    return nil
  end
  if kind == "string" then return type(v) ~= "string" and (path .. ": a string expected") or nil end
  if kind == "bool" then return type(v) ~= "boolean" and (path .. ": a boolean expected") or nil end
  if kind == "int32" then
    return (type(v) ~= "number" or v % 1 ~= 0 or v < -2 ^ 31 or v >= 2 ^ 31) and (path .. ": an int32 expected") or nil
  end
  if kind == "Duration" then
    return (type(v) ~= "string" or not v:match("^%-?%d+%.?%d*s$")) and (path .. ": a Duration expected") or nil
  end
  local fields = MESSAGES[kind]
  if not fields then return path .. ": " .. kind .. " is not expected here" end
  if type(v) ~= "table" then return path .. ": a " .. kind .. " object expected" end
  for k, x in pairs(v) do
    if not fields[k] then return path .. ": " .. kind .. " has no field " .. tostring(k) end
    local bad = invalid(x, fields[k], path .. "." .. k)
    if bad then return bad end
  end
  return nil
end

local function assert_run_job_request(body)
  local bad = invalid(body, "RunJobRequest", "RunJobRequest")
  assert.is_nil(bad, json.encode(body))
end

-- The body run_job would send, read from the machine's first step (nothing is sent).
local offline = assert(cloudrun.client{ project = "p", region = "r", endpoint = "http://127.0.0.1:9",
                                        credentials = false })
local function wire(opts)
  local m = assert(offline._core:start("run_job", "j", opts))
  local kind, req = m:step()
  assert.are.equal("send", kind)
  assert.are.equal("http://127.0.0.1:9/v2/projects/p/locations/r/jobs/j:run", req.url)
  local body = json.decode(req.body)
  assert_run_job_request(body)
  return body
end

describe("run_job's containers", function()
  it("sends one ContainerOverride per container, in name order, each with its name", function()
    local body = wire{
      containers = {
        sidecar = { env = { LEVEL = "debug", N = 3 } },
        main = { args = { "manage.py", "job", "--id=42" }, env = { { name = "ID", value = "42" } } },
        cleaner = { clear_args = true, args = {} },
      },
      task_count = 2, timeout = "10m",
    }
    assert.are.same({ overrides = {
      containerOverrides = {
        { name = "cleaner", args = {}, clearArgs = true },
        { name = "main", args = { "manage.py", "job", "--id=42" }, env = { { name = "ID", value = "42" } } },
        { name = "sidecar", env = { { name = "LEVEL", value = "debug" }, { name = "N", value = "3" } } },
      },
      taskCount = 2, timeout = "600s",
    } }, body)
  end)

  it("leaves the single-container options as they were", function()
    assert.are.same({ overrides = { containerOverrides = {
      { name = "worker", args = { "x" }, env = { { name = "A", value = "1" } }, clearArgs = true },
    } } }, wire{ args = { "x" }, env = { A = "1" }, clear_args = true, container = "worker" })
    assert.are.same({}, wire{})
    assert.are.same({}, wire{ containers = {} })
  end)

  local both = {
    { "args", { args = { "x" } } }, { "env", { env = { A = "1" } } }, { "clear_args", { clear_args = true } },
    { "container", { container = "main" } },
  }
  for _, case in ipairs(both) do
    it("raises for containers with " .. case[1] .. ", naming both", function()
      local opts = { containers = { main = { args = { "y" } } } }
      for k, v in pairs(case[2]) do opts[k] = v end
      local ok, msg = pcall(offline.run_job, offline, "j", opts)
      assert.is_false(ok)
      assert.matches("run_job: options 'containers' and '" .. case[1] .. "' cannot be given together", msg, 1, true)
      assert.matches("overrides_spec.lua:%d+:", msg) -- at the caller's line
    end)
  end

  it("takes clear_args = false beside containers (it sets nothing)", function()
    assert.are.same({ overrides = { containerOverrides = { { name = "main", args = { "y" } } } } },
      wire{ containers = { main = { args = { "y" } } }, clear_args = false })
  end)

  local malformed = {
    { "containers that are not a table", "main", "option 'containers' must be a table of container names" },
    { "a list instead of a map", { { args = { "x" } } }, "option 'containers' must map container names (strings)" },
    { "an empty container name", { [""] = { args = { "x" } } }, "must map container names" },
    { "a container that is not a table", { main = "x" }, "container 'main' must be a table {args=, env=, clear_args=}" },
    { "an unknown field", { main = { argz = { "x" } } }, "container 'main': unknown field 'argz'" },
    { "args that are not a list", { main = { args = "x" } }, "option 'containers.main.args' must be a list" },
    { "an arg that is not a string", { main = { args = { "a", 2 } } },
      "option 'containers.main.args': element 2 must be a string" },
    { "an env value of a wrong type", { side = { env = { A = {} } } },
      "option 'containers.side.env': the value of A must be a string or a number" },
    { "an env entry without a name", { side = { env = { { value = "x" } } } },
      "option 'containers.side.env': element 1 needs a string 'name'" },
    { "a clear_args that is not a boolean", { main = { clear_args = "yes" } },
      "option 'containers.main.clear_args' must be a boolean" },
    { "a name with a NUL byte", { ["ma\0in"] = { args = { "x" } } }, "holds a NUL byte" },
  }
  for _, case in ipairs(malformed) do
    it("raises for " .. case[1], function()
      local ok, msg = pcall(offline.run_job, offline, "j", { containers = case[2] })
      assert.is_false(ok)
      assert.matches(case[3], msg, 1, true)
    end)
  end

  it("is taken by run_jobs' entries, each checked before any is sent", function()
    local ok, msg = pcall(offline.run_jobs, offline, {
      { job = "j", containers = { main = { args = { "x" } } } },
      { job = "j", containers = { main = { args = { "x" } } }, env = { A = "1" } },
    })
    assert.is_false(ok)
    assert.matches("run_jobs: entry 2: options 'containers' and 'env' cannot be given together", msg, 1, true)
  end)
end)

describe("against cr-standin, which refuses what Google would refuse", function()
  local server, log

  setup(function()
    log = os.tmpname()
    server = h.spawn(h.sh_quote(STANDIN) .. " --verbose 2>" .. h.sh_quote(log), "^standin listening on (.*)$")
  end)

  teardown(function()
    if server then h.stop(server.pid, server.pipe) end
    os.remove(log)
  end)

  -- The body of the last request the standin logged.
  local function last_body()
    local text = assert(h.read(log))
    local body
    for b in text:gmatch("body %(%d+ bytes%): ([^\n]*)") do body = b end
    return json.decode(assert(body, "no body in the standin's log"))
  end

  local function rejected()
    return h.control_url("http://" .. server.match .. "/stats").rejected
  end

  it("takes run_job's containers", function()
    local c = h.client(server.match)
    local op, err = c:run_job("j", { containers = { main = { args = { "a" } }, sidecar = { env = { K = "v" } } } })
    assert.is_truthy(op, tostring(err))
    assert.matches("/executions/j%-", op.execution)
    local body = last_body()
    assert_run_job_request(body)
    assert.are.same({ { name = "main", args = { "a" } }, { name = "sidecar", env = { { name = "K", value = "v" } } } },
      body.overrides.containerOverrides)
    assert.are.equal(0, rejected())
  end)

  local lines = {
    { "--container groups, a container named twice getting both lots",
      "--tasks 2 --container main --args=a,b --update-env-vars=X=1 --container sidecar --update-env-vars=Y=2 "
        .. "--container main --args=c",
      { containerOverrides = {
          { name = "main", args = { "c" }, env = { { name = "X", value = "1" } } },
          { name = "sidecar", env = { { name = "Y", value = "2" } } },
        }, taskCount = 2 } },
    { "--container=NAME, global flags after it, gcloud's ^DELIM^ form",
      "--container=main --args='^;^a,b;c' --project p --format json",
      { containerOverrides = { { name = "main", args = { "a,b", "c" } } } } },
    { "--args= clearing a container's args, as gcloud's empty --args does",
      "--container main --args=", { containerOverrides = { { name = "main", clearArgs = true } } } },
    { "--args= clearing the args without --container", "--args=", { containerOverrides = { { clearArgs = true } } } },
    { "no --container: one override without a name, as before",
      "--args=x --update-env-vars=A=1", { containerOverrides = { { args = { "x" }, env = { { name = "A", value = "1" } } } } } },
  }
  for _, case in ipairs(lines) do
    it("gets from the CLI " .. case[1], function()
      local out, rc = h.run(("CLOUD_RUN_EMULATOR_HOST=%s GOOGLE_CLOUD_PROJECT=p CLOUDSDK_RUN_REGION=r %s jobs execute "
        .. "j --async %s 2>&1"):format(server.match, CLI, case[2]))
      assert.are.equal(0, rc, out)
      local body = last_body()
      assert_run_job_request(body)
      assert.are.same(case[3], body.overrides)
      assert.are.equal(0, rejected())
    end)
  end
end)

describe("against the emulator", function()
  local emu, out, client

  local function run(args)
    return h.run(("CLOUD_RUN_EMULATOR_HOST=%s GOOGLE_CLOUD_PROJECT=test-project CLOUDSDK_RUN_REGION=us-central1 "
      .. "%s %s 2>&1"):format(emu.host, CLI, args))
  end

  setup(function()
    out = h.tmpdir()
    local solo = h.sh_job("solo", 'printf "%s\\n" "$@" > "$OUT/solo"; echo "X=$X" >> "$OUT/solo"')
    solo.template.template.containers[1].name = "main"
    local pair = h.sh_job("pair", "true")
    pair.template.template.containers[1].name = "main"
    pair.template.template.containers[2] = { name = "sidecar", image = "example/side:1", command = { "true" } }
    emu = h.emulator{ jobs = { solo, pair }, env = { OUT = out } }
    client = h.client(emu.host)
  end)

  teardown(function()
    if emu then emu.stop() end
    os.execute("rm -rf " .. h.sh_quote(out))
  end)

  it("runs a one-container job with containers naming its container", function()
    local op = assert(client:run_job("solo", { containers = { main = { args = { "hello" }, env = { X = "1" } } } }))
    local e = assert(client:wait(op, { timeout = 30 }))
    assert.are.equal(1, e.succeededCount)
    assert.are.equal("hello\nX=1\n", h.read(out .. "/solo"))
  end)

  it("answers INVALID_ARGUMENT naming the container a job lacks, before anything else", function()
    local op, err = client:run_job("pair", { containers = { main = { args = { "x" } }, nosuch = { args = { "y" } } } })
    assert.is_nil(op)
    assert.are.equal("INVALID_ARGUMENT", err.code)
    assert.are.equal(400, err.status)
    assert.matches("container 'nosuch' does not exist in job 'pair'", err.message, 1, true)
  end)

  it("answers UNIMPLEMENTED for a good override of a job with sidecars (not emulated)", function()
    local op, err = client:run_job("pair", { containers = { main = { args = { "x" } }, sidecar = { env = { A = "1" } } } })
    assert.is_nil(op)
    assert.are.equal("UNIMPLEMENTED", err.code)
    assert.are.equal(501, err.status)
    assert.matches("multi-container executions are not emulated", err.message, 1, true)
  end)

  it("gives the CLI's --container groups the same answers", function()
    local text, rc = run("jobs execute solo --wait --container main --args=hi --update-env-vars=X=2")
    assert.are.equal(0, rc, text)
    assert.are.equal("hi\nX=2\n", h.read(out .. "/solo"))
    text, rc = run("jobs execute solo --wait --container main --args=")
    assert.are.equal(0, rc, text)
    assert.are.equal("\nX=\n", h.read(out .. "/solo")) -- no args: the job's default-arg cleared
    text, rc = run("jobs execute pair --container main --args=x --container nosuch --args=y")
    assert.are.equal(3, rc, text)
    assert.matches("INVALID_ARGUMENT: overrides.container_overrides[1].name: container 'nosuch' does not exist",
      text, 1, true)
    text, rc = run("jobs execute pair --container main --args=x --container sidecar --update-env-vars=A=1")
    assert.are.equal(3, rc, text)
    assert.matches("UNIMPLEMENTED", text, 1, true)
  end)

  local usage = {
    { "a per-container flag before the first --container", "--args=x --container main --args=y",
      "with --container, --args goes after the --container it is for" },
    { "an execution's flag after --container", "--container main --args=y --tasks 2",
      "--tasks is the execution's, not container main's: give it before the first --container" },
    { "a switch after --container", "--container main --args=y --wait", "--wait is the execution's" },
    { "a --container that overrides nothing", "--container main", "--container main overrides nothing" },
    { "an empty container name", "--container= --args=x", "--container needs a container's name" },
    { "--container without a name", "--container", "flag --container needs a value" },
  }
  for _, case in ipairs(usage) do
    it("exits 2 for " .. case[1], function()
      local text, rc = run("jobs execute solo " .. case[2])
      assert.are.equal(2, rc, text)
      assert.matches(case[3], text, 1, true)
    end)
  end

  it("says so in execute's help", function()
    local text, rc = run("jobs execute --help")
    assert.are.equal(0, rc, text)
    assert.matches("--container=NAME", text, 1, true)
    assert.matches("--container main --args=a,b --container sidecar", text, 1, true)
    assert.matches("(empty) clears them", text, 1, true)
  end)
end)

describe("hints on PERMISSION_DENIED", function()
  local emu, client
  local SA = "runner@test-project.iam.gserviceaccount.com"
  local DENIED = "The caller does not have permission"
  local RUN_HINT = { "run.jobs.runWithOverrides", "roles/run.jobsExecutorWithOverrides", "roles/run.developer" }
  local ACT_AS_HINT = { "iam.serviceAccounts.actAs", "roles/iam.serviceAccountUser granted on " .. SA }

  local function refuse(method)
    h.control(emu.host, "POST", "faults", { method = method, fault = "permission_denied" })
  end

  local function run(args)
    return h.run(("CLOUD_RUN_EMULATOR_HOST=%s GOOGLE_CLOUD_PROJECT=test-project CLOUDSDK_RUN_REGION=us-central1 "
      .. "%s %s 2>&1"):format(emu.host, CLI, args))
  end

  local function has_all(text, list)
    for _, s in ipairs(list) do assert.matches(s, text, 1, true) end
  end

  setup(function()
    emu = h.emulator{ jobs = { h.sh_job("solo", "true") } }
    client = h.client(emu.host)
  end)

  teardown(function()
    if emu then emu.stop() end
  end)

  before_each(function() h.control(emu.host, "DELETE", "faults") end)

  it("adds runWithOverrides and its roles to a refused run_job with overrides; code and status as sent", function()
    for _, opts in ipairs({ { args = { "x" } }, { env = { A = "1" } }, { task_count = 2 }, { timeout = 60 },
                            { containers = { main = { args = { "x" } } } } }) do
      refuse("RunJob")
      local op, err = client:run_job("solo", opts)
      assert.is_nil(op)
      assert.are.equal("PERMISSION_DENIED", err.code)
      assert.are.equal(403, err.status)
      assert.is_false(err.retryable)
      assert.are.equal(DENIED .. ". Hint: ", err.message:sub(1, #DENIED + 8))
      has_all(err.message, RUN_HINT)
      has_all(tostring(err), RUN_HINT)
    end
  end)

  it("adds nothing to a refused run_job without overrides", function()
    refuse("RunJob")
    local op, err = client:run_job("solo")
    assert.is_nil(op)
    assert.are.equal("PERMISSION_DENIED", err.code)
    assert.are.equal(DENIED, err.message)
  end)

  it("adds it in run_jobs' results too", function()
    refuse("RunJob")
    local results, failed = client:run_jobs({ { job = "solo", args = { "x" } } })
    assert.are.equal(1, failed)
    assert.are.equal("PERMISSION_DENIED", results[1].code)
    has_all(results[1].message, RUN_HINT)
  end)

  it("adds actAs on the job's service account to a refused create_job or update_job", function()
    local spec = { template = { template = { serviceAccount = SA, containers = { { image = "example/x:1" } } } } }
    refuse("CreateJob")
    local op, err = client:create_job("made", spec)
    assert.is_nil(op)
    assert.are.equal("PERMISSION_DENIED", err.code)
    assert.are.equal(403, err.status)
    has_all(err.message, ACT_AS_HINT)
    refuse("UpdateJob")
    op, err = client:update_job("solo", spec)
    assert.is_nil(op)
    has_all(err.message, ACT_AS_HINT)
    -- a job without a service account of its own: no hint
    refuse("CreateJob")
    op, err = client:create_job("made", { template = { template = { containers = { { image = "example/x:1" } } } } })
    assert.is_nil(op)
    assert.are.equal(DENIED, err.message)
  end)

  it("shows them in the CLI's errors", function()
    refuse("RunJob")
    local text, rc = run("jobs execute solo --args=x")
    assert.are.equal(3, rc, text)
    assert.matches("ERROR: PERMISSION_DENIED: " .. DENIED .. ". Hint: ", text, 1, true)
    has_all(text, RUN_HINT)
    refuse("CreateJob")
    text, rc = run("jobs create made --image example/x:1 --service-account " .. SA)
    assert.are.equal(3, rc, text)
    has_all(text, ACT_AS_HINT)
    refuse("RunJob")
    text, rc = run("jobs execute solo")
    assert.are.equal(3, rc, text)
    assert.is_nil(text:find("Hint", 1, true), text)
  end)
end)
