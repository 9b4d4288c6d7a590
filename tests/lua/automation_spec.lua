-- The CLI as automation glue (issue 12), as subprocesses against the real
-- emulator: gcloud's configuration, global flags anywhere, suggestions,
-- jobs update/deploy, create --execute-now, --env-vars-file, the progress
-- line in a pipe and on a pseudo-terminal (script(1)), Ctrl-C while waiting,
-- logs from Cloud Logging (the in-tree fake checks the exact filter), and the
-- task side of the Lua API (cloudrun.task, cloudrun.shard, zero counts).
local cloudrun = require("cloudrun")
local h = require("helpers")

local CLI = h.sh_quote(h.bin .. "/cloudrun")
local LUA = h.sh_quote(h.bin .. "/cloudrun-lua")
local FAKE = assert(os.getenv("CR_FAKE_GOOGLE"), "CR_FAKE_GOOGLE: the cr-fake-google binary")

local function has_script()
  local _, rc = h.run("script --version >/dev/null 2>&1")
  return rc == 0
end

describe("gcloud's configuration", function()
  local emu, dir

  setup(function()
    dir = h.tmpdir()
    emu = h.emulator()
    os.execute("mkdir -p " .. h.sh_quote(dir .. "/gc/configurations"))
    h.write(dir .. "/gc/active_config", "work\n")
    h.write(dir .. "/gc/configurations/config_work",
      "[core]\naccount = someone@example.com\nproject = cfg-project\n\n[run]\nregion = europe-west1\n")
    h.write(dir .. "/gc/configurations/config_other", "[core]\nproject = other-project\n[run]\nregion = asia-east1\n")
    h.write(dir .. "/gc/configurations/config_empty", "[core]\naccount = someone@example.com\n")
  end)

  teardown(function()
    if emu then emu.stop() end
    os.execute("rm -rf " .. h.sh_quote(dir))
  end)

  -- the CLI with no project or region but gcloud's configuration in dir/gc
  local function run(args, extra)
    return h.run(("env -u GOOGLE_CLOUD_PROJECT -u CLOUDSDK_CORE_PROJECT -u CLOUDSDK_RUN_REGION "
      .. "-u CLOUDSDK_ACTIVE_CONFIG_NAME CLOUDSDK_CONFIG=%s CLOUD_RUN_EMULATOR_HOST=%s %s %s %s 2>&1")
      :format(h.sh_quote(dir .. "/gc"), emu.host, extra or "", CLI, args))
  end

  it("takes [core] project and [run] region from the active configuration", function()
    local out, rc = run("jobs create cfg --image=x --command=true -q")
    assert.are.equal(0, rc, out)
    out, rc = run("jobs describe cfg --format json")
    assert.are.equal(0, rc, out)
    assert.are.equal("projects/cfg-project/locations/europe-west1/jobs/cfg", cloudrun.json.decode(out).name)
  end)

  it("takes CLOUDSDK_ACTIVE_CONFIG_NAME over active_config, and flags anywhere over both", function()
    local out, rc = run("jobs create other --image=x --command=true -q", "CLOUDSDK_ACTIVE_CONFIG_NAME=other")
    assert.are.equal(0, rc, out)
    out, rc = run("--format json jobs describe other", "CLOUDSDK_ACTIVE_CONFIG_NAME=other")
    assert.are.equal(0, rc, out)
    assert.are.equal("projects/other-project/locations/asia-east1/jobs/other", cloudrun.json.decode(out).name)
    -- global flags before the command, between, and after
    out, rc = run("--project flag-project jobs --region us-east1 create flagged --image=x --command=true -q")
    assert.are.equal(0, rc, out)
    out, rc = run("jobs list --project=flag-project --region=us-east1 --format json")
    assert.are.equal(0, rc, out)
    local listed = cloudrun.json.decode(out)
    assert.are.equal(1, #listed)
    assert.are.equal("projects/flag-project/locations/us-east1/jobs/flagged", listed[1].name)
  end)

  it("names the configuration file among the places looked when it sets no project or region", function()
    local out, rc = run("jobs list", "CLOUDSDK_ACTIVE_CONFIG_NAME=empty GCE_METADATA_HOST=127.0.0.1:1")
    assert.are.equal(3, rc, out)
    assert.matches("no project", out, 1, true)
    assert.matches(dir .. "/gc/configurations/config_empty", out, 1, true)
    out, rc = run("jobs list --project p", "CLOUDSDK_ACTIVE_CONFIG_NAME=empty GCE_METADATA_HOST=127.0.0.1:1")
    assert.are.equal(3, rc, out)
    assert.matches("no region", out, 1, true)
    assert.matches(dir .. "/gc/configurations/config_empty", out, 1, true)
  end)

  it("is read by the Lua client too", function()
    local out, rc = h.run(("env -u GOOGLE_CLOUD_PROJECT -u CLOUDSDK_CORE_PROJECT -u CLOUDSDK_RUN_REGION "
      .. "CLOUDSDK_CONFIG=%s CLOUD_RUN_EMULATOR_HOST=%s %s -e %s 2>&1"):format(h.sh_quote(dir .. "/gc"), emu.host, LUA,
      h.sh_quote('local c = assert(require("cloudrun").client{}) print(assert(c:job_name("x")))')))
    assert.are.equal(0, rc, out)
    assert.are.equal("projects/cfg-project/locations/europe-west1/jobs/x\n", out)
  end)
end)

describe("cloudrun suggestions", function()
  it("suggests the closest flag and command, and exits 2", function()
    local out, rc = h.run(CLI .. " jobs execute report --wiat 2>&1")
    assert.are.equal(2, rc, out)
    assert.matches("unknown flag --wiat", out, 1, true)
    assert.matches("--wait", out, 1, true)
    out, rc = h.run(CLI .. " jobs exceute report 2>&1")
    assert.are.equal(2, rc, out)
    assert.matches("execute", out, 1, true)
  end)
end)

describe("cloudrun jobs update, deploy and --execute-now", function()
  local emu, dir

  local function run(args)
    return h.run(("CLOUD_RUN_EMULATOR_HOST=%s GOOGLE_CLOUD_PROJECT=test-project CLOUDSDK_RUN_REGION=us-central1 %s %s 2>&1")
      :format(emu.host, CLI, args))
  end

  local function describe_job(name)
    local out, rc = run("jobs describe " .. name .. " --format json")
    assert.are.equal(0, rc, out)
    return cloudrun.json.decode(out)
  end

  local function env_of(job)
    local env = {}
    for _, e in ipairs(job.template.template.containers[1].env or {}) do env[e.name] = e.value end
    return env
  end

  setup(function()
    dir = h.tmpdir()
    emu = h.emulator()
  end)

  teardown(function()
    if emu then emu.stop() end
    os.execute("rm -rf " .. h.sh_quote(dir))
  end)

  it("changes only the settings given, with gcloud's flag names", function()
    local out, rc = run("jobs create upd --image=img:1 --command=/bin/sh --args=-c,true --set-env-vars=A=1,B=2,C=3 "
      .. "--labels=team=data,tier=batch --tasks=2 -q")
    assert.are.equal(0, rc, out)
    out, rc = run("jobs update upd --image=img:2 --update-env-vars=B=20,D=4 --remove-env-vars=A --update-labels=tier=gold "
      .. "--remove-labels=team --cpu=2 --memory=1Gi --parallelism=1 --max-retries=2 --task-timeout=5m -q")
    assert.are.equal(0, rc, out)
    assert.matches("Job [upd] has successfully been updated.", out, 1, true)
    local job = describe_job("upd")
    local c = job.template.template.containers[1]
    assert.are.equal("img:2", c.image)
    assert.are.same({ "/bin/sh" }, c.command)
    assert.are.same({ "-c", "true" }, c.args)
    assert.are.same({ B = "20", C = "3", D = "4" }, env_of(job))
    assert.are.same({ tier = "gold" }, job.labels)
    assert.are.same({ cpu = "2", memory = "1Gi" }, c.resources.limits)
    assert.are.equal(2, job.template.taskCount)
    assert.are.equal(1, job.template.parallelism)
    assert.are.equal(2, job.template.template.maxRetries)
    assert.are.equal("300s", job.template.template.timeout)
    assert.are.equal("2", job.generation)

    out, rc = run("jobs update upd --clear-env-vars --clear-labels --args=-c,'exit 0' -q")
    assert.are.equal(0, rc, out)
    job = describe_job("upd")
    assert.are.same({}, env_of(job))
    assert.is_nil(job.labels)
    assert.are.same({ "-c", "exit 0" }, job.template.template.containers[1].args)
  end)

  it("reads --env-vars-file as a YAML map of strings, and names the file when it is not one", function()
    h.write(dir .. "/env.yaml", "# the job's settings\nDATABASE_URL: postgres://db/app\nWORKERS: \"4\"\nQUOTED: 'a: b'\n")
    local out, rc = run("jobs create envf --image=x --command=true --env-vars-file=" .. h.sh_quote(dir .. "/env.yaml") .. " -q")
    assert.are.equal(0, rc, out)
    assert.are.same({ DATABASE_URL = "postgres://db/app", WORKERS = "4", QUOTED = "a: b" }, env_of(describe_job("envf")))

    for _, case in ipairs({
      { "a list", "- a\n- b\n" },
      { "nested maps", "A:\n  B: c\n" },
      { "broken YAML", "A: [unclosed\n" },
    }) do
      h.write(dir .. "/bad.yaml", case[2])
      out, rc = run("jobs update envf --env-vars-file=" .. h.sh_quote(dir .. "/bad.yaml") .. " -q")
      assert.are.equal(2, rc, case[1] .. ": " .. out)
      assert.matches(dir .. "/bad.yaml", out, 1, true)
    end
    out, rc = run("jobs update envf --env-vars-file=" .. h.sh_quote(dir .. "/missing.yaml") .. " -q")
    assert.are.equal(2, rc, out)
    assert.matches("missing.yaml", out, 1, true)
    -- nothing changed by the refused updates
    assert.are.equal("1", describe_job("envf").generation)
  end)

  -- --env-vars-file goes through the core's one file reader (credentials files'
  -- rules): it used to read anything with io.open — a FIFO hung for ever, and
  -- /dev/zero or a 2 GB sparse file was read whole before failing.
  it("refuses an --env-vars-file that is a FIFO, a device, a directory or too large, at once, naming it", function()
    local fifo, big = dir .. "/env.fifo", dir .. "/big.yaml"
    os.execute("mkfifo " .. h.sh_quote(fifo))
    os.execute("truncate -s 2G " .. h.sh_quote(big))
    h.write(dir .. "/nul.yaml", 'ID: "42\\0; rm -rf /"\n')
    for _, case in ipairs({
      { fifo, "not a regular file" },
      { "/dev/zero", "not a regular file" },
      { dir, "is a directory" },
      { big, "larger than 1048576 bytes" },
      { dir .. "/nul.yaml", "the value of ID holds a NUL byte" },
    }) do
      local t0 = os.time()
      -- `timeout` ends a CLI that hangs on the FIFO (rc 124)
      local out, rc = run("jobs create envx --image=x --command=true --env-vars-file=" .. h.sh_quote(case[1]) .. " -q",
        "timeout -s KILL 10")
      assert.are.equal(2, rc, case[1] .. ": " .. out)
      assert.matches("--env-vars-file " .. case[1], out, 1, true)
      assert.matches(case[2], out, 1, true)
      assert.is_true(os.time() - t0 <= 3, case[1])
    end
    os.remove(fifo)
    os.remove(big)
    -- nothing was created by the refused commands
    local _, rc = run("jobs describe envx")
    assert.are_not.equal(0, rc)
  end)

  it("deploys: creates a job that is not there, updates one that is", function()
    local out, rc = run("jobs deploy dep --image=x --command=/bin/sh --args=-c,'exit 0' --tasks=1 -q")
    assert.are.equal(0, rc, out)
    assert.matches("created", out, 1, true)
    assert.are.equal("1", describe_job("dep").generation)
    out, rc = run("jobs deploy dep --update-env-vars=STAGE=2 -q")
    assert.are.equal(0, rc, out)
    assert.matches("updated", out, 1, true)
    local job = describe_job("dep")
    assert.are.equal("2", job.generation)
    assert.are.same({ STAGE = "2" }, env_of(job))
  end)

  it("prints what scripts read with --format: json, yaml, value() and table(), or names the forms it knows", function()
    local out, rc = run("jobs create fmt --image=x --command=true --tasks=3 --labels=team=data -q")
    assert.are.equal(0, rc, out)
    local json1 = run("jobs describe fmt --format json")
    local json2 = run("jobs describe fmt --format=json")
    assert.are.equal(json1, json2) -- stable: keys sorted
    assert.matches('^{\n  "createTime": "', json1)
    assert.matches('\n  "labels": {\n    "team": "data"\n  },\n', json1, 1, true)
    local yaml = run("jobs describe fmt --format yaml")
    assert.matches("\nlabels:\n  team: data\n", yaml, 1, true)
    assert.matches("\nname: projects/test%-project/locations/us%-central1/jobs/fmt\n", yaml)
    out, rc = run("--format 'value(name,template.taskCount,labels.team)' jobs list")
    assert.are.equal(0, rc, out)
    assert.matches("projects/test%-project/locations/us%-central1/jobs/fmt\t3\tdata\n", out)
    out, rc = run("jobs list --format 'table(name.segment(-1),template.taskCount)'")
    assert.are.equal(2, rc, out)
    assert.matches("json, yaml, value(FIELD,...), table(", out, 1, true)
    out, rc = run("jobs list --format 'table(template.taskCount:label=TASKS,labels.team)' --limit 100")
    assert.are.equal(0, rc, out)
    assert.matches("^TASKS  TEAM\n", out)
    assert.matches("\n3      data\n", out, 1, true)
    out, rc = run("jobs list --format csv")
    assert.are.equal(2, rc, out)
    assert.matches("--format", out, 1, true)
    assert.matches("value(FIELD,...)", out, 1, true)
  end)

  it("runs the job at once with --execute-now, and --wait gives the execution's outcome as the exit status", function()
    local out, rc = run("jobs create now --image=x --command=/bin/sh --args=-c,'exit 0' --execute-now --wait -q")
    assert.are.equal(0, rc, out)
    assert.matches("Execution %[now%-%w+%] has successfully completed", out)
    out, rc = run("jobs update now --args=-c,'exit 5' --max-retries=0 --execute-now --wait -q")
    assert.are.equal(1, rc, out)
    assert.matches("task 0: exit code 5", out, 1, true)
    out, rc = run("jobs deploy now --args=-c,'exit 0' --execute-now --wait -q")
    assert.are.equal(0, rc, out)
    out, rc = run("jobs executions list --job now --format json")
    assert.are.equal(0, rc, out)
    assert.are.equal(3, #cloudrun.json.decode(out))
    out, rc = run("jobs create later --image=x --command=true --wait -q")
    assert.are.equal(2, rc, out)
    assert.matches("--execute-now", out, 1, true)
  end)
end)

describe("cloudrun --wait progress", function()
  local emu

  local function env()
    return ("CLOUD_RUN_EMULATOR_HOST=%s GOOGLE_CLOUD_PROJECT=test-project CLOUDSDK_RUN_REGION=us-central1")
      :format(emu.host)
  end

  setup(function()
    emu = h.emulator{ jobs = {
      h.sh_job("steps", 'sleep 1.2; [ "$CLOUD_RUN_TASK_INDEX" = 1 ] && exit 7; exit 0', { taskCount = 3 }),
      h.sh_job("long", "sleep 30"),
    } }
  end)

  teardown(function()
    if emu then emu.stop() end
  end)

  it("prints a plain line per change in a pipe, then each failed task's exit code and the logs command", function()
    local t0 = os.time()
    local out = h.run(("%s %s jobs execute steps --wait 2>&1 | cat"):format(env(), CLI))
    local took = os.time() - t0
    assert.is_nil(out:find("\r", 1, true))
    assert.matches("\n0s running +tasks: 3 running, 0 succeeded, 0 failed of 3\n", out)
    assert.matches("done +tasks: 0 running, 2 succeeded, 1 failed of 3\n", out)
    assert.matches("Execution %[steps%-%w+%] failed", out)
    assert.matches("  task 1: exit code 7\n", out, 1, true)
    assert.matches("Logs: cloudrun jobs executions logs steps%-%w+\n", out)
    assert.is_nil(out:find("task 0: exit", 1, true))
    assert.is_true(took <= 5, "the end noticed within about a second (" .. took .. " s)")
    local status = h.run(("%s %s jobs execute steps --wait >/dev/null 2>&1; echo $?"):format(env(), CLI))
    assert.are.equal("1\n", status)
  end)

  it("names the stage: queued, running, finishing, done", function()
    local progress = require("cloudrun.cli.progress")
    local function e(t) return setmetatable(t, cloudrun.execution_mt) end
    assert.are.equal("queued", progress.stage(e{ taskCount = 2 }))
    assert.are.equal("running", progress.stage(e{ taskCount = 2, startTime = "t", runningCount = 2 }))
    assert.are.equal("running", progress.stage(e{ taskCount = 2, startTime = "t", runningCount = 1, succeededCount = 1 }))
    assert.are.equal("finishing", progress.stage(e{ taskCount = 2, startTime = "t", succeededCount = 1, failedCount = 1 }))
    assert.are.equal("done", progress.stage(e{ taskCount = 2, startTime = "t", succeededCount = 2, completionTime = "t",
      conditions = { { type = "Completed", state = "CONDITION_SUCCEEDED" } } }))
    assert.are.equal("0s running   tasks: 1 running, 1 succeeded, 0 failed of 2",
      progress.line(e{ taskCount = 2, startTime = "t", runningCount = 1, succeededCount = 1 }, 0.4))
    assert.are.equal("2m05s running   tasks: 0 running, 0 succeeded, 1 failed, 1 cancelled of 3 (2 retried)",
      progress.line(e{ taskCount = 3, startTime = "t", failedCount = 1, cancelledCount = 1, runningCount = 0,
        retriedCount = 2 }, 125))
    assert.are.equal(0.5, progress.interval(29))
    assert.are.equal(5, progress.interval(3600))
  end)

  it("updates one line in place on a terminal, and Ctrl-C leaves the execution running (exit 130)", function()
    if not has_script() then
      pending("script(1) (bsdutils) is not installed")
      return
    end
    local cmd = ("%s %s jobs execute long --wait"):format(env(), CLI)
    local out = h.run(("(sleep 2.5; printf '\\003'; sleep 1) | script -qec %s /dev/null; echo \"exit=$?\"")
      :format(h.sh_quote(cmd)))
    assert.matches("exit=130", out, 1, true)
    -- the line is rewritten with \r, with the elapsed time counting
    assert.matches("\r0s running +tasks: 1 running", out)
    assert.matches("\r2s running +tasks: 1 running", out)
    local short = out:match("Execution %[(long%-%w+)%] created")
    assert.is_truthy(short, out)
    assert.matches("cloudrun jobs executions describe " .. short, out, 1, true)
    assert.matches("cloudrun jobs executions logs " .. short .. " --follow", out, 1, true)
    assert.matches("cloudrun jobs executions cancel " .. short, out, 1, true)
    -- the execution goes on
    local client = h.client(emu.host)
    local e = assert(client:get_execution(short))
    assert.is_nil(e.completionTime)
    assert.are.equal(1, e.runningCount)
    assert(client:cancel_execution(short))
  end)
end)

describe("cloudrun jobs executions logs against Cloud Logging", function()
  local dir, fake, emu

  setup(function()
    dir = h.tmpdir()
    local out, rc = h.run(("cd %s && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem 2>&1 && "
      .. "openssl pkey -in key.pem -pubout -out pub.pem 2>&1"):format(h.sh_quote(dir)))
    assert(rc == 0, out)
    local s = h.spawn(("%s --port 0 --public-key %s"):format(h.sh_quote(FAKE), h.sh_quote(dir .. "/pub.pem")),
      "^fake%-google listening on 127%.0%.0%.1:(%d+)$")
    fake = { port = s.match, stop = function() h.stop(s.pid, s.pipe) end }
    h.write(dir .. "/sa.json", cloudrun.json.encode({
      type = "service_account", project_id = "log-project", private_key_id = "kid-1",
      private_key = assert(h.read(dir .. "/key.pem")), client_email = "runner@log-project.iam.gserviceaccount.com",
      client_id = "1", token_uri = "http://127.0.0.1:" .. fake.port .. "/token",
    }))
    emu = h.emulator()
  end)

  teardown(function()
    if fake then fake.stop() end
    if emu then emu.stop() end
    os.execute("rm -rf " .. h.sh_quote(dir))
  end)

  local function run(args)
    -- Cloud Run calls to the emulator with the key's token; logs to the fake
    return h.run(("env -u CLOUD_RUN_EMULATOR_HOST GOOGLE_APPLICATION_CREDENTIALS=%s CLOUDSDK_RUN_REGION=europe-west4 "
      .. "CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN=http://%s/ CLOUDSDK_API_ENDPOINT_OVERRIDES_LOGGING=http://127.0.0.1:%s/ "
      .. "%s %s 2>&1"):format(h.sh_quote(dir .. "/sa.json"), emu.host, fake.port, CLI, args))
  end

  local function stats()
    return h.control_url("http://127.0.0.1:" .. fake.port .. "/stats")
  end

  it("asks entries:list with gcloud's filter, in order across pages", function()
    local out, rc = run("jobs executions logs report-x7k2p")
    assert.are.equal(0, rc, out)
    assert.are.equal(
      'resource.type = "cloud_run_job" AND resource.labels.project_id = "log-project" AND '
      .. 'resource.labels.location = "europe-west4" AND resource.labels.job_name = "report" AND '
      .. 'labels."run.googleapis.com/execution_name" = "report-x7k2p"', stats().last_filter)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal(6, #lines, out) -- two pages of the fake's (4 a page)
    assert.are.equal("2026-01-01T00:00:01Z  task 0  line 1 of task 0 of report-x7k2p", lines[1])
    assert.are.equal("2026-01-01T00:00:06Z  task 1  line 3 of task 1 of report-x7k2p", lines[6])
  end)

  it("narrows to one task with --task and stops at --limit", function()
    local out, rc = run("jobs executions logs report-x7k2p --task 1 --limit 2")
    assert.are.equal(0, rc, out)
    assert.matches('AND labels."run.googleapis.com/task_index" = "1"$', stats().last_filter)
    assert.are.equal("2026-01-01T00:00:04Z  task 1  line 1 of task 1 of report-x7k2p\n"
      .. "2026-01-01T00:00:05Z  task 1  line 2 of task 1 of report-x7k2p\n", out)
  end)

  it("prints the entries as the API sent them with --format json", function()
    local out, rc = run("jobs executions logs report-x7k2p --task 0 --format json")
    assert.are.equal(0, rc, out)
    local entries = cloudrun.json.decode(out)
    assert.are.equal(3, #entries)
    assert.are.equal("cloud_run_job", entries[1].resource.type)
    assert.are.equal("0", entries[1].labels["run.googleapis.com/task_index"])
  end)

  it("asks for no more entries than --limit needs, and for no page past it", function()
    local before = stats().entries_requests
    local out, rc = run("jobs executions logs report-x7k2p --limit 2")
    assert.are.equal(0, rc, out)
    local _, n = out:gsub("\n", "")
    assert.are.equal(2, n, out)
    local st = stats()
    assert.are.equal(before + 1, st.entries_requests)
    assert.are.equal(2, st.last_page_size)
    -- the fake gives 4 a page: the fifth line takes a second page, which asks for that one only
    out, rc = run("jobs executions logs report-x7k2p --limit 5")
    assert.are.equal(0, rc, out)
    _, n = out:gsub("\n", "")
    assert.are.equal(5, n, out)
    st = stats()
    assert.are.equal(before + 3, st.entries_requests)
    assert.are.equal(1, st.last_page_size)
  end)

  it("prints each page as it comes: a later page's failure leaves the earlier lines printed", function()
    local body = dir .. "/paged.json"
    h.write(body, '{"entries": [{"timestamp": "2026-01-01T00:00:00Z", "textPayload": "on the first page"}], '
      .. '"nextPageToken": "again"}')
    local s = h.spawn(("%s --port 0 --public-key %s --entries-body %s"):format(h.sh_quote(FAKE),
      h.sh_quote(dir .. "/pub.pem"), h.sh_quote(body)), "^fake%-google listening on 127%.0%.0%.1:(%d+)$")
    local key = cloudrun.json.decode(h.read(dir .. "/sa.json"))
    key.token_uri = "http://127.0.0.1:" .. s.match .. "/token"
    h.write(dir .. "/sa4.json", cloudrun.json.encode(key))
    local out, rc = h.run(("env -u CLOUD_RUN_EMULATOR_HOST GOOGLE_APPLICATION_CREDENTIALS=%s CLOUDSDK_RUN_REGION=r1 "
      .. "CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN=http://%s/ CLOUDSDK_API_ENDPOINT_OVERRIDES_LOGGING=http://127.0.0.1:%s/ "
      .. "timeout 20 %s jobs executions logs report-x7k2p 2>/dev/null"):format(h.sh_quote(dir .. "/sa4.json"),
      emu.host, s.match, CLI))
    h.stop(s.pid, s.pipe)
    -- the first page was printed before the second was asked for (which answers the same token: exit 3)
    assert.are.equal(3, rc, out)
    assert.are.equal("2026-01-01T00:00:00Z  on the first page\n", out)
  end)

  it("retries entries:list as a read (a 503 too), after the Retry-After of a 429", function()
    local s = h.spawn(("%s --port 0 --public-key %s --entries-busy 3"):format(h.sh_quote(FAKE),
      h.sh_quote(dir .. "/pub.pem")), "^fake%-google listening on 127%.0%.0%.1:(%d+)$")
    -- a key whose tokens come from this fake, which accepts only its own
    local key = cloudrun.json.decode(h.read(dir .. "/sa.json"))
    key.token_uri = "http://127.0.0.1:" .. s.match .. "/token"
    h.write(dir .. "/sa2.json", cloudrun.json.encode(key))
    local started = os.time()
    local out, rc = h.run(("env -u CLOUD_RUN_EMULATOR_HOST GOOGLE_APPLICATION_CREDENTIALS=%s CLOUDSDK_RUN_REGION=r1 "
      .. "CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN=http://%s/ CLOUDSDK_API_ENDPOINT_OVERRIDES_LOGGING=http://127.0.0.1:%s/ "
      .. "%s jobs executions logs report-x7k2p --task 0 2>&1"):format(h.sh_quote(dir .. "/sa2.json"), emu.host, s.match, CLI))
    local took = os.time() - started
    local st = h.control_url("http://127.0.0.1:" .. s.match .. "/stats")
    h.stop(s.pid, s.pipe)
    assert.are.equal(0, rc, out)
    local _, lines = out:gsub("\n", "")
    assert.are.equal(3, lines, out) -- task 0's three lines
    assert.are.equal(4, st.entries_requests) -- a 503, two 429s, then the answer
    assert.is_true(took >= 2, "Retry-After: 1 honoured twice (" .. took .. " s)")
  end)

  it("prints what it can of odd entries, and says so, without a crash or a loop, when the answer is garbage", function()
    local body = dir .. "/entries.json"
    h.write(body, "{}")
    local s = h.spawn(("%s --port 0 --public-key %s --entries-body %s"):format(h.sh_quote(FAKE),
      h.sh_quote(dir .. "/pub.pem"), h.sh_quote(body)), "^fake%-google listening on 127%.0%.0%.1:(%d+)$")
    local key = cloudrun.json.decode(h.read(dir .. "/sa.json"))
    key.token_uri = "http://127.0.0.1:" .. s.match .. "/token"
    h.write(dir .. "/sa3.json", cloudrun.json.encode(key))
    local function logs()
      return h.run(("env -u CLOUD_RUN_EMULATOR_HOST GOOGLE_APPLICATION_CREDENTIALS=%s CLOUDSDK_RUN_REGION=r1 "
        .. "CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN=http://%s/ CLOUDSDK_API_ENDPOINT_OVERRIDES_LOGGING=http://127.0.0.1:%s/ "
        .. "timeout 20 %s jobs executions logs report-x7k2p 2>&1"):format(h.sh_quote(dir .. "/sa3.json"), emu.host,
        s.match, CLI))
    end
    local cases = {
      { "{}", 0, "^$" },
      { '{"entries": []}', 0, "^$" },
      { '{"entries": [1, "a", null, {"labels": 5, "textPayload": {"a": 1}, "timestamp": 7}, '
        .. '{"timestamp": "2026-01-01T00:00:00Z", "jsonPayload": {"message": "from json"}, '
        .. '"labels": {"run.googleapis.com/task_index": 3}}]}', 0,
        "^7  \n2026%-01%-01T00:00:00Z  task 3  from json\n$" },
      { '{"entries": "lots"}', 3, "entries that are not a list" },
      { '{"entries": [], "nextPageToken": 5}', 3, "nextPageToken that is not a string" },
      { '{"entries": [], "nextPageToken": "again"}', 3, "the same nextPageToken twice" },
      { "[1, 2]", 3, "entries:list" },
      { "<html>busy</html>", 3, "" },
    }
    for _, case in ipairs(cases) do
      h.write(body, case[1])
      local out, rc = logs()
      assert.are.equal(case[2], rc, case[1] .. ": " .. out)
      assert.matches(case[3], out, 1, case[2] == 3)
      assert.is_nil(out:find("ya29", 1, true))
    end
    h.stop(s.pid, s.pipe)
  end)

  it("refuses a bad --task and reports an unreachable Cloud Logging with exit 3", function()
    local out, rc = run("jobs executions logs report-x7k2p --task=-1")
    assert.are.equal(2, rc, out)
    out, rc = h.run(("GOOGLE_APPLICATION_CREDENTIALS=%s CLOUDSDK_RUN_REGION=europe-west4 CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN=http://%s/ "
      .. "CLOUDSDK_API_ENDPOINT_OVERRIDES_LOGGING=http://127.0.0.1:1/ %s jobs executions logs report-x7k2p 2>&1")
      :format(h.sh_quote(dir .. "/sa.json"), emu.host, CLI))
    assert.are.equal(3, rc, out)
    assert.matches("127.0.0.1:1", out, 1, true)
    assert.is_nil(out:find("ya29", 1, true))
  end)
end)

describe("cloudrun jobs executions logs against the emulator", function()
  local emu

  local function run(args)
    return h.run(("CLOUD_RUN_EMULATOR_HOST=%s GOOGLE_CLOUD_PROJECT=test-project CLOUDSDK_RUN_REGION=us-central1 %s %s 2>&1")
      :format(emu.host, CLI, args))
  end

  setup(function()
    emu = h.emulator{ jobs = {
      h.sh_job("talk", 'echo "hello from $CLOUD_RUN_TASK_INDEX"; sleep 0.3; echo "bye from $CLOUD_RUN_TASK_INDEX"',
        { taskCount = 2 }),
      h.sh_job("slow", 'for i in 1 2 3; do echo "tick $i"; sleep 1; done'),
      h.sh_job("many", "seq 1 2500"),
    } }
  end)

  teardown(function()
    if emu then emu.stop() end
  end)

  it("prints every task's lines in time order, and one task's with --task", function()
    local out, rc = run("jobs execute talk --wait")
    assert.are.equal(0, rc, out)
    local id = out:match("Execution %[(talk%-%w+)%] created")
    out, rc = run("jobs executions logs " .. id)
    assert.are.equal(0, rc, out)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal(4, #lines, out)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT[%d:.]+Z  task [01]  hello from [01]$", lines[1])
    assert.matches("  bye from [01]$", lines[4])
    out, rc = run("jobs executions logs " .. id .. " --task 1")
    assert.are.equal(0, rc, out)
    assert.matches("^[^\n]+  task 1  hello from 1\n[^\n]+  task 1  bye from 1\n$", out)
    out, rc = run("jobs executions logs " .. id .. " --format 'value(textPayload)' --task 0")
    assert.are.equal(0, rc, out)
    assert.are.equal("hello from 0\nbye from 0\n", out)
  end)

  it("follows a running execution until it is done", function()
    local out, rc = run("jobs execute slow --async")
    assert.are.equal(0, rc, out)
    local id = out:match("Execution %[(slow%-%w+)%] created")
    local started = os.time()
    out, rc = run("jobs executions logs " .. id .. " --follow")
    assert.are.equal(0, rc, out)
    assert.matches("tick 1\n.*tick 2\n.*tick 3\n$", out)
    local _, n = out:gsub("tick", "")
    assert.are.equal(3, n, out) -- each line once, though asked for again from the last one's time
    assert.is_true(os.time() - started >= 2, "it waited for the lines to come")
  end)

  it("reads page after page, each from where the last ended, and stops at --limit", function()
    local out, rc = run("jobs execute many --wait")
    assert.are.equal(0, rc, out)
    local id = out:match("Execution %[(many%-%w+)%] created")
    out, rc = run("jobs executions logs " .. id)
    assert.are.equal(0, rc, out)
    local texts = {}
    for t in out:gmatch("task 0  (%d+)\n") do texts[#texts + 1] = tonumber(t) end
    assert.are.equal(2500, #texts) -- three pages of at most 1000
    for i = 1, 2500 do assert.are.equal(i, texts[i]) end
    out, rc = run("jobs executions logs " .. id .. " --limit 1001")
    assert.are.equal(0, rc, out)
    local _, n = out:gsub("\n", "")
    assert.are.equal(1001, n)
    assert.matches("  1001\n$", out)
  end)

  it("says NOT_FOUND for an execution that is not there when following, and exit 3", function()
    local out, rc = run("jobs executions logs talk-zzzzz --follow")
    assert.are.equal(3, rc, out)
    assert.matches("NOT_FOUND", out, 1, true)
  end)
end)

describe("the task side", function()
  local function lua(code, env)
    return h.run(("env -u CLOUD_RUN_TASK_INDEX -u CLOUD_RUN_TASK_COUNT %s %s -e %s 2>&1")
      :format(env or "", LUA, h.sh_quote(code)))
  end

  it("cloudrun.task() reads Cloud Run's environment, and defaults outside it", function()
    local out, rc = lua('local t = require("cloudrun").task() print(t.index, t.count, t.attempt, t.execution, t.job, t.in_cloud_run)',
      "CLOUD_RUN_TASK_INDEX=2 CLOUD_RUN_TASK_COUNT=5 CLOUD_RUN_TASK_ATTEMPT=1 CLOUD_RUN_EXECUTION=report-abc CLOUD_RUN_JOB=report")
    assert.are.equal(0, rc, out)
    assert.are.equal("2\t5\t1\treport-abc\treport\ttrue\n", out)
    out, rc = lua('local t = require("cloudrun").task() print(t.index, t.count, t.attempt, t.execution, t.in_cloud_run)')
    assert.are.equal(0, rc, out)
    assert.are.equal("0\t1\t0\tnil\tfalse\n", out)
    out, rc = lua('require("cloudrun").task()', "CLOUD_RUN_TASK_INDEX=x")
    assert.are_not.equal(0, rc)
    assert.matches("CLOUD_RUN_TASK_INDEX is not a whole number", out, 1, true)
    out, rc = lua('require("cloudrun").task()', "CLOUD_RUN_TASK_INDEX=3 CLOUD_RUN_TASK_COUNT=3")
    assert.are_not.equal(0, rc)
    assert.matches("task index 3 is not below the task count 3", out, 1, true)
  end)

  it("cloudrun.shard() gives every item to exactly one task, in order, shares within one of each other", function()
    for n = 0, 23 do
      for c = 1, 7 do
        local list, all, sizes = {}, {}, {}
        for i = 1, n do list[i] = "item" .. i end
        for i = 0, c - 1 do
          local share = cloudrun.shard(list, { index = i, count = c })
          sizes[#sizes + 1] = #share
          for _, v in ipairs(share) do all[#all + 1] = v end
        end
        assert.are.same(list, all)
        assert.is_true(math.max(table.unpack and table.unpack(sizes) or unpack(sizes)) -
          math.min(table.unpack and table.unpack(sizes) or unpack(sizes)) <= 1)
      end
    end
    assert.are.same({ "c", "d", "e" }, cloudrun.shard({ "a", "b", "c", "d", "e" }, { index = 1, count = 2 }))
    assert.has_error(function() cloudrun.shard({}, { index = 2, count = 2 }) end)
    assert.has_error(function() cloudrun.shard({}, { index = 0, count = 0 }) end)
    assert.has_error(function() cloudrun.shard("abc") end)
  end)

  it("reads omitted Execution and Task counts as 0; --format json prints what the API sent", function()
    local emu = h.emulator{ jobs = { h.sh_job("zero", "exit 0") } }
    local client = h.client(emu.host)
    local e = assert(client:wait(assert(client:run_job("zero")), { timeout = 30 }))
    assert.are.equal(1, e.succeededCount)
    assert.are.equal(0, e.failedCount)
    assert.are.equal(0, e.cancelledCount)
    assert.are.equal(0, e.runningCount)
    assert.are.equal(0, e.retriedCount)
    local task = assert(client:list_tasks(e.name)).tasks[1]
    assert.are.equal(0, task.retried)
    local out, rc = h.run(("CLOUD_RUN_EMULATOR_HOST=%s GOOGLE_CLOUD_PROJECT=test-project CLOUDSDK_RUN_REGION=us-central1 "
      .. "%s jobs executions describe %s --format json"):format(emu.host, CLI, e.name:match("[^/]+$")))
    emu.stop()
    assert.are.equal(0, rc, out)
    assert.is_nil(out:find("failedCount", 1, true))
    assert.are.equal(1, cloudrun.json.decode(out).succeededCount)
  end)
end)
