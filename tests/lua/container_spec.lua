-- The emulator's container runtime end to end (issue 20): each task attempt is a
-- podman (or docker) container of a local busybox image built FROM scratch
-- (tests/containers/build-images). What a user relies on is asserted through
-- require("cloudrun") against `cloudrun emulator --runtime podman`, and on the
-- host through podman and /proc. The test set-up (runc, explicit ulimits: crun
-- refuses to start containers on these hybrid-cgroup machines) is
-- tests/containers/containers.conf, given to podman and to the emulator through
-- CONTAINERS_CONF; nothing is written under /etc/containers.
local h = require("helpers")
local core = require("cloudrun.core")

local SRC = assert(os.getenv("CLOUDRUN_SOURCE_DIR"), "CLOUDRUN_SOURCE_DIR must point at the source tree")
local CONF = SRC .. "/tests/containers/containers.conf"
local IMAGE = "localhost/cloudrun-test-busybox:latest"
local JOBS = "projects/test-project/locations/us-central1/jobs/"
local DOCKER = select(2, h.run("command -v docker >/dev/null 2>&1")) == 0

-- How long a task sleeps until it is stopped, different in each run of this
-- suite (its PID in it), so that the host's processes tell this run's tasks
-- from another's running at the same time: nap(k) for k = 1..9.
local RUN = assert(tonumber((h.run("echo $PPID"))))
local function nap(k) return tostring(10000000 + RUN * 10 + k) end

-- The --secrets file, as YAML (the podman emulator) and as JSON (the process one).
-- Every value is distinctive, so that finding one anywhere is a leak.
local SECRETS_YAML = [[
# versions of a secret; a plain value is version 1 (and latest)
db-password:
  1: db-pass-v1-Q7xK2
  2: db-pass-v2-W9mZ4
api-key: api-key-plain-R3tP8
projects/test-project/secrets/scoped: scoped-only-here-L5nV1
]]
local SECRETS = {
  ["db-password"] = { ["1"] = "db-pass-v1-Q7xK2", ["2"] = "db-pass-v2-W9mZ4" },
  ["api-key"] = "api-key-plain-R3tP8",
  ["projects/test-project/secrets/scoped"] = "scoped-only-here-L5nV1",
}
local SECRET_VALUES = { "db-pass-v1-Q7xK2", "db-pass-v2-W9mZ4", "api-key-plain-R3tP8", "scoped-only-here-L5nV1" }

-- ---- the host side ----------------------------------------------------------

--- podman with the test set-up (`args` may pipe into another podman); returns
-- its output (stdout and stderr) and exit code.
local function podman(args)
  return h.run("export CONTAINERS_CONF=" .. h.sh_quote(CONF) .. "; podman " .. args .. " 2>&1")
end

local function words(text)
  local t = {}
  for w in (text or ""):gmatch("%S+") do t[#t + 1] = w end
  return t
end

--- The names of the containers (running or not) that carry the label KEY=VALUE.
local function containers(key, value)
  local out, rc = podman("ps -a --filter " .. h.sh_quote("label=" .. key .. "=" .. value) .. " --format '{{.Names}}'")
  assert(rc == 0, out)
  return words(out)
end

local function exists(name)
  local _, rc = podman("container exists " .. h.sh_quote(name))
  return rc == 0
end

--- The command lines (NULs as spaces) of the host's processes that contain
-- `needle`. Read here, in Lua: a grep for it would find its own command line.
local function processes_with(needle)
  local found = {}
  local p = io.popen("ls /proc")
  for pid in p:lines() do
    if pid:match("^%d+$") then
      local f = io.open("/proc/" .. pid .. "/cmdline")
      local cmdline = f and f:read("*a") or ""
      if f then f:close() end
      cmdline = cmdline:gsub("%z", " ")
      if cmdline:find(needle, 1, true) then found[#found + 1] = pid .. ": " .. cmdline end
    end
  end
  p:close()
  return found
end

--- Field 22 of /proc/PID/stat (starttime, in clock ticks): after the command
-- name, which may hold spaces, in parentheses.
local function starttime(pid)
  local stat = assert(h.read("/proc/" .. pid .. "/stat"))
  return tonumber(words(stat:match("%) (.*)$"))[20])
end

local function wait_for(what, predicate, seconds)
  local deadline = core.monotonic() + (seconds or 15)
  repeat
    local v = predicate()
    if v then return v end
    core.sleep(0.05)
  until core.monotonic() > deadline
  error("timed out waiting for " .. what, 2)
end

-- ---- the API side -----------------------------------------------------------

local function sh(script) return { "/bin/sh", "-c", script, "sh" } end

--- A job of the test image: `container` fields over {image = IMAGE},
-- `template` fields over the task template {maxRetries = 0}.
local function job(name, container, template)
  local c = { image = IMAGE }
  for k, v in pairs(container or {}) do c[k] = v end
  local t = { maxRetries = 0, containers = { c } }
  for k, v in pairs(template or {}) do t[k] = v end
  return { name = JOBS .. name, template = { taskCount = 1, template = t } }
end

local function short(name) return name:match("[^/]+$") end

local function completed(e)
  for _, c in ipairs(e.conditions or {}) do
    if c.type == "Completed" then return c end
  end
end

local function lines(text)
  local t = {}
  for l in (text or ""):gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

local function has(list, value)
  for _, v in ipairs(list) do if v == value then return true end end
  return false
end

--- The log of task i of the execution op started: <log dir>/<execution id>/task<i>.log.
local function task_log(emu, op, i)
  return h.read(emu.dir .. "/logs/" .. short(op.execution) .. "/task" .. (i or 0) .. ".log")
end

local function finish(client, op)
  return assert(client:wait(op, { timeout = 60 }))
end

--- Waits until the task's log has `marker` (the container runs, its trap is set).
local function until_logged(emu, op, marker, i)
  wait_for(marker .. " in the log of " .. op.execution, function()
    local log = task_log(emu, op, i)
    return log and log:find(marker, 1, true)
  end)
end

--- A failed execution whose tasks never started: no task log, no container.
local function assert_failed_before_start(emu, client, op, e)
  assert.are.equal("CONDITION_FAILED", completed(e).state)
  assert.are.equal(e.taskCount, e.failedCount)
  for t in client:each_tasks(op.execution) do
    assert.is_nil(t.startTime, t.name .. " started")
  end
  for i = 0, e.taskCount - 1 do assert.is_nil(task_log(emu, op, i)) end
  assert.are.same({}, containers("lua-cloudrun.execution", op.execution))
end

local function assert_no_secret(text, where)
  for _, v in ipairs(SECRET_VALUES) do
    assert.is_nil(text:find(v, 1, true), "a secret value in " .. where)
  end
end

--- Removes what an emulator may have left (only after a failed test: the
-- suite asserts that there is nothing).
local function remove_containers_of(emu)
  if emu then
    podman("ps -aq --filter label=lua-cloudrun.emulator.pid=" .. emu.pid .. " | xargs -r podman rm -f -t 0")
  end
end

-- Each task prints its arguments, its environment, and whether the host's file is visible.
local RECORD = [[
for a in "$@"; do echo "arg=$a"; done
env | sort
if [ -e "$HOST_FILE" ]; then echo host-file-visible; else echo host-file-hidden; fi
]]

-- Prints "ready" once its SIGTERM trap is set, then sleeps until signalled.
local function trapping(k)
  return sh("trap 'echo got-sigterm; exit 143' TERM; echo ready; sleep " .. nap(k) .. " & wait")
end

describe("the emulator's container runtime", function()
  local tmp, emu, client, host_file, data, archive, shelf

  setup(function()
    local out, rc = h.run("CONTAINERS_CONF=" .. h.sh_quote(CONF) .. " "
      .. h.sh_quote(SRC .. "/tests/containers/build-images") .. " 2>&1")
    assert(rc == 0, "tests/containers/build-images failed: " .. out)
    tmp = h.tmpdir()
    host_file = tmp .. "/host-only.txt"
    h.write(host_file, "on the host\n")
    data, archive, shelf = tmp .. "/data", tmp .. "/archive", tmp .. "/shelf"
    os.execute("mkdir -p " .. h.sh_quote(data) .. " " .. h.sh_quote(archive) .. " " .. h.sh_quote(shelf))
    h.write(data .. "/hello.txt", "hello from the host\n")
    h.write(archive .. "/old.txt", "archived on the host\n")
    h.write(shelf .. "/book.txt", "a book on the shelf\n")
    os.execute("mkdir -p " .. h.sh_quote(data .. "/sub"))
    h.write(data .. "/sub/inner.txt", "inside the subPath\n")
    h.write(tmp .. "/secrets.yaml", SECRETS_YAML)

    local secret_env = function(name, secret, version)
      return { name = name, valueSource = { secretKeyRef = { secret = secret, version = version } } }
    end
    emu = h.emulator{
      args = { "--runtime", "podman", "--secrets", tmp .. "/secrets.yaml",
               "--volume-dir", "data=" .. data, "--volume-dir", "archive=" .. archive,
               "--volume-dir", "shelf=" .. shelf },
      env = { CONTAINERS_CONF = CONF, EMULATOR_ONLY_MARKER = "emulator-env-must-not-leak" },
      stderr = true, -- read at the end: no secret value in its log lines
      jobs = {
        job("record", { command = sh(RECORD), args = { "default-arg" },
          env = { { name = "FROM_JOB", value = "job-value" }, { name = "SHARED", value = "job" },
                  { name = "HOST_FILE", value = host_file } } }),
        job("own-run", {}),
        job("own-entrypoint", { args = { "x", "y" } }),
        job("command-only", { command = { "/bin/echo", "command-only" } }),
        job("command-and-args", { command = { "/bin/echo" }, args = { "a", "b" } }),
        job("workdir", { command = sh("pwd"), workingDir = "/srv/app" }),
        job("secret-env", {
          command = sh("for v in DB_LATEST DB_V1 API_KEY SCOPED PLAIN; do eval \"echo $v=\\$$v\"; done"),
          env = { secret_env("DB_LATEST", "db-password", "latest"), secret_env("DB_V1", "db-password", "1"),
                  -- a short key in the file matches the secret in any project
                  secret_env("API_KEY", "projects/other-project/secrets/api-key", "latest"),
                  -- a projects/P/secrets/NAME key matches a short reference in the job's project P
                  secret_env("SCOPED", "scoped", "1"),
                  { name = "PLAIN", value = "plain" } } }),
        job("secret-files", {
          command = sh("cd /secrets/db && for f in current old/v1; do echo \"$f=$(cat $f) mode=$(stat -Lc %a $f)\"; done; "
            .. "echo \"api-key=$(cat /secrets/api/api-key) mode=$(stat -Lc %a /secrets/api/api-key)\""),
          volumeMounts = { { name = "db", mountPath = "/secrets/db" }, { name = "api", mountPath = "/secrets/api" } },
        }, {
          volumes = {
            { name = "db", secret = { secret = "db-password", defaultMode = 288, -- 0440
              items = { { path = "current", version = "latest" }, { path = "old/v1", version = "1", mode = 256 } } } },
            { name = "api", secret = { secret = "api-key" } }, -- no items: one file named after the secret, 0444
          },
        }),
        job("secret-hold", {
          command = sh("echo ready; sleep 2; echo done"),
          env = { secret_env("DB_LATEST", "db-password", "latest") },
          volumeMounts = { { name = "api", mountPath = "/secrets/api" } },
        }, { volumes = { { name = "api", secret = { secret = "api-key" } } } }),
        job("volumes", {
          command = sh([[
grep ' /scratch ' /proc/mounts
echo x > /scratch/x && echo scratch-writable
cat /mnt/data/hello.txt
echo from-the-container > /mnt/data/out.txt && echo data-writable
cat /mnt/archive/old.txt
if (echo x > /mnt/archive/new.txt) 2>/dev/null; then echo archive-writable; else echo archive-refused; fi
cat /mnt/shelf/book.txt
]]),
          volumeMounts = { { name = "scratch", mountPath = "/scratch" }, { name = "data", mountPath = "/mnt/data" },
                           { name = "archive", mountPath = "/mnt/archive" }, { name = "shelf", mountPath = "/mnt/shelf" } },
        }, {
          volumes = {
            { name = "scratch", emptyDir = { medium = "MEMORY", sizeLimit = "16Mi" } },
            { name = "data", gcs = { bucket = "test-bucket" } },
            { name = "archive", gcs = { bucket = "test-archive", readOnly = true } },
            { name = "shelf", nfs = { server = "nfs.example", path = "/shelf" } },
          },
        }),
        job("subpaths", {
          command = sh([[
ls /mnt/sub
cat /mnt/sub/inner.txt
echo "old=$(cat /secrets/old/v1)"
echo "one=$(cat /etc/app/current)"
grep ' /scratch ' /proc/mounts
]]),
          volumeMounts = { { name = "data", mountPath = "/mnt/sub", subPath = "sub" },
                           { name = "db", mountPath = "/secrets/old", subPath = "old" },
                           { name = "db", mountPath = "/etc/app/current", subPath = "current" },
                           { name = "scratch", mountPath = "/scratch", subPath = "x" } },
        }, {
          volumes = {
            { name = "data", gcs = { bucket = "test-bucket" } },
            { name = "db", secret = { secret = "db-password",
              items = { { path = "current", version = "latest" }, { path = "old/v1", version = "1" } } } },
            { name = "scratch", emptyDir = { medium = "MEMORY" } },
          },
        }),
        job("term-timeout", { command = trapping(1) }, { timeout = "2s" }),
        job("stubborn-timeout", { command = sh("exec sleep " .. nap(2)) }, { timeout = "2s" }),
        job("cancel-me", { command = trapping(3) }),
        job("stubborn-cancel", { command = sh("echo ready; exec sleep " .. nap(7)) }),
        job("hold", { command = sh("echo ready; sleep 3; echo done") }),
        job("limits", {
          command = sh([[
for f in /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max; do
  [ -r $f ] && echo "memory=$(cat $f)"
done
if [ -r /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
  echo "cpu=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"
elif [ -r /sys/fs/cgroup/cpu.max ]; then
  echo "cpu=$(cat /sys/fs/cgroup/cpu.max)"
fi
]]),
          resources = { limits = { cpu = "500m", memory = "96Mi" } },
        }),
      },
    }
    client = h.client(emu.host)
  end)

  teardown(function()
    remove_containers_of(emu)
    if emu then emu.stop() end
    if tmp then os.execute("rm -rf " .. h.sh_quote(tmp)) end
  end)

  describe("runs a task as a container", function()
    it("with the overrides, the CLOUD_RUN_* variables, and nothing of the host's files or the emulator's env", function()
      assert.are.equal("on the host\n", h.read(host_file))
      local op = assert(client:run_job("record", {
        args = { "manage.py", "job", "--id=42" }, env = { ID = "42", SHARED = "override" }, task_count = 3,
      }))
      local e = finish(client, op)
      assert.are.equal(3, e.succeededCount, completed(e).message)
      for i = 0, 2 do
        local seen = lines(task_log(emu, op, i))
        assert.is_true(has(seen, "arg=manage.py"))
        assert.is_true(has(seen, "arg=job"))
        assert.is_true(has(seen, "arg=--id=42"))
        assert.is_false(has(seen, "arg=default-arg"))
        assert.is_true(has(seen, "ID=42"))
        assert.is_true(has(seen, "SHARED=override"))
        assert.is_true(has(seen, "FROM_JOB=job-value"))
        assert.is_true(has(seen, "CLOUD_RUN_JOB=record"))
        assert.is_true(has(seen, "CLOUD_RUN_EXECUTION=" .. short(op.execution)))
        assert.is_true(has(seen, "CLOUD_RUN_TASK_INDEX=" .. i))
        assert.is_true(has(seen, "CLOUD_RUN_TASK_COUNT=3"))
        assert.is_true(has(seen, "CLOUD_RUN_TASK_ATTEMPT=0"))
        assert.is_true(has(seen, "host-file-hidden"))
        for _, l in ipairs(seen) do
          assert.is_nil(l:match("^EMULATOR_ONLY_MARKER="), "the emulator's environment reached the container")
          assert.is_nil(l:match("^CONTAINERS_CONF="), "the emulator's environment reached the container")
        end
      end
    end)

    it("runs the image's own ENTRYPOINT and CMD unless command or args replace them", function()
      local cases = {
        { "own-run", nil, "image-entrypoint image-cmd\n" },
        { "own-run", { args = { "over" } }, "image-entrypoint over\n" },
        { "own-entrypoint", nil, "image-entrypoint x y\n" },
        { "command-only", nil, "command-only\n" }, -- the image's CMD is not used
        { "command-and-args", nil, "a b\n" },
      }
      local ops = {}
      for i, c in ipairs(cases) do ops[i] = assert(client:run_job(c[1], c[2])) end
      for i, c in ipairs(cases) do
        local e = finish(client, ops[i])
        assert.are.equal(1, e.succeededCount, c[1] .. ": " .. tostring(completed(e).message))
        assert.are.equal(c[3], task_log(emu, ops[i]), c[1])
      end
    end)

    it("in the container's workingDir", function()
      local op = assert(client:run_job("workdir"))
      assert.are.equal(1, finish(client, op).succeededCount)
      assert.are.equal("/srv/app\n", task_log(emu, op))
    end)

    it("with resources.limits cpu and memory applied (as root), or a warning in the task's log", function()
      local op = assert(client:run_job("limits"))
      local e = finish(client, op)
      assert.are.equal(1, e.succeededCount)
      local log = task_log(emu, op)
      if h.run("id -u"):match("^0\n") then
        local seen = lines(log)
        assert.is_true(has(seen, "memory=100663296"), log) -- 96Mi
        assert.is_true(has(seen, "cpu=50000 100000"), log) -- 500m: half of each period
        assert.is_nil(log:find("warning", 1, true), log)
      else
        assert.matches("cloudrun emulator: [^\n]*: warning: ", log)
      end
    end)
  end)

  describe("secrets", function()
    it("puts secretKeyRef values in the env, latest and numbered, short and project-scoped", function()
      local op = assert(client:run_job("secret-env"))
      local e = finish(client, op)
      assert.are.equal(1, e.succeededCount, tostring(completed(e).message))
      local seen = lines(task_log(emu, op))
      assert.is_true(has(seen, "DB_LATEST=db-pass-v2-W9mZ4"))
      assert.is_true(has(seen, "DB_V1=db-pass-v1-Q7xK2"))
      assert.is_true(has(seen, "API_KEY=api-key-plain-R3tP8"))
      assert.is_true(has(seen, "SCOPED=scoped-only-here-L5nV1"))
      assert.is_true(has(seen, "PLAIN=plain"))
    end)

    it("mounts secret volumes as files: the items' paths, versions and modes, or one file named after the secret", function()
      local op = assert(client:run_job("secret-files"))
      local e = finish(client, op)
      assert.are.equal(1, e.succeededCount, tostring(completed(e).message) .. "\n" .. tostring(task_log(emu, op)))
      local seen = lines(task_log(emu, op))
      assert.is_true(has(seen, "current=db-pass-v2-W9mZ4 mode=440"), task_log(emu, op)) -- defaultMode
      assert.is_true(has(seen, "old/v1=db-pass-v1-Q7xK2 mode=400"), task_log(emu, op)) -- the item's mode
      assert.is_true(has(seen, "api-key=api-key-plain-R3tP8 mode=444"), task_log(emu, op))
    end)

    it("never puts a value on a command line or in podman inspect while the task runs, nor in API answers", function()
      local op = assert(client:run_job("secret-hold"))
      until_logged(emu, op, "ready")
      local name = containers("lua-cloudrun.execution", op.execution)[1]
      assert.is_string(name, "no container for " .. op.execution)
      assert.are.equal("running", (podman("inspect --format '{{.State.Status}}' " .. h.sh_quote(name))):match("%S+"))
      for _, v in ipairs(SECRET_VALUES) do
        assert.are.same({}, processes_with(v))
      end
      local out, rc = podman("container inspect " .. h.sh_quote(name))
      assert(rc == 0, out)
      local doc = assert(core.json_decode(out))[1]
      assert_no_secret(core.json_encode(doc.Config.CreateCommand or {}), "podman inspect's Config.CreateCommand")
      assert_no_secret(core.json_encode(doc.Args or {}), "podman inspect's Args")
      assert_no_secret(tostring(doc.Path), "podman inspect's Path")
      -- the container's own env (Config.Env) holds them, as it must; nothing else does
      doc.Config.Env = nil
      assert_no_secret(core.json_encode(doc), "podman inspect (but Config.Env)")

      local e = finish(client, op)
      assert.are.equal(1, e.succeededCount)
      for _, j in ipairs({ "secret-env", "secret-files", "secret-hold" }) do
        assert_no_secret(core.json_encode(assert(client:get_job(j))), "GetJob " .. j)
      end
      assert_no_secret(core.json_encode(assert(client:get_execution(op.execution))), "GetExecution")
      assert_no_secret(core.json_encode(assert(client:list_executions("secret-env"))), "ListExecutions")
      assert_no_secret(core.json_encode(assert(client:list_tasks(op.execution))), "ListTasks")
    end)

    local missing = {
      { "missing-secret", "a secret the file lacks", { secret = "nope", version = "latest" },
        "Secret 'projects/test-project/secrets/nope' version 'latest' is not in the --secrets file." },
      { "missing-version", "a version the file lacks", { secret = "db-password", version = "3" },
        "Secret 'projects/test-project/secrets/db-password' version '3' is not in the --secrets file." },
      { "missing-scoped", "a project-scoped secret referenced from another project",
        { secret = "projects/other-project/secrets/scoped", version = "1" },
        "Secret 'projects/other-project/secrets/scoped' version '1' is not in the --secrets file." },
    }
    for _, c in ipairs(missing) do
      local name, what, ref, message = c[1], c[2], c[3], c[4]
      it("fails the execution before any task starts for " .. what .. ", naming it", function()
        assert(client:create_job(name, job(name, { command = sh("echo ran"),
          env = { { name = "S", valueSource = { secretKeyRef = ref } } } })))
        local op = assert(client:run_job(name))
        local e = finish(client, op)
        assert_failed_before_start(emu, client, op, e)
        assert.is_truthy(completed(e).message:find(message, 1, true), completed(e).message)
      end)
    end

    it("fails the execution for a secret volume's missing secret too", function()
      assert(client:create_job("missing-volume", job("missing-volume", { command = sh("echo ran"),
        volumeMounts = { { name = "gone", mountPath = "/secrets/gone" } } },
        { volumes = { { name = "gone", secret = { secret = "gone" } } } })))
      local op = assert(client:run_job("missing-volume"))
      local e = finish(client, op)
      assert_failed_before_start(emu, client, op, e)
      assert.is_truthy(completed(e).message:find(
        "Secret 'projects/test-project/secrets/gone' version 'latest' is not in the --secrets file.", 1, true),
        completed(e).message)
    end)

    it("never writes a value in the emulator's log lines", function()
      local stderr = assert(h.read(emu.stderr))
      assert.matches("jobs/secret-env:run", stderr, 1, true) -- it does log (no --quiet)
      assert_no_secret(stderr, "the emulator's stderr")
    end)
  end)

  describe("volumes", function()
    it("gives emptyDir a tmpfs, and maps Cloud Storage and NFS volumes to --volume-dir directories", function()
      local op = assert(client:run_job("volumes"))
      local e = finish(client, op)
      local log = task_log(emu, op)
      assert.are.equal(1, e.succeededCount, log)
      local seen = lines(log)
      local mount = log:match("[^\n]* /scratch [^\n]*")
      assert.is_string(mount, log)
      assert.matches("^tmpfs /scratch tmpfs ", mount)
      assert.matches("size=16384k", mount, 1, true) -- 16Mi
      assert.is_true(has(seen, "scratch-writable"))
      assert.is_true(has(seen, "hello from the host"))
      assert.is_true(has(seen, "data-writable"))
      assert.are.equal("from-the-container\n", h.read(data .. "/out.txt"))
      assert.is_true(has(seen, "archived on the host"))
      assert.is_true(has(seen, "archive-refused"), log) -- readOnly
      assert.is_nil(h.read(archive .. "/new.txt"))
      assert.is_true(has(seen, "a book on the shelf"))
    end)

    it("refuses RunJob (not CreateJob) for a mounted volume with no --volume-dir, saying what to add", function()
      local spec = job("unmapped", { command = sh("true"), volumeMounts = { { name = "elsewhere", mountPath = "/mnt/e" } } },
        { volumes = { { name = "elsewhere", gcs = { bucket = "b" } } } })
      assert(client:create_job("unmapped", spec))
      local op, err = client:run_job("unmapped")
      assert.is_nil(op)
      assert.are.equal("FAILED_PRECONDITION", err.code)
      assert.matches("volume 'elsewhere' (mounted at /mnt/e) has no local directory", err.message, 1, true)
      assert.matches("--volume-dir elsewhere=DIR", err.message, 1, true)
      -- declared but mounted by no container: nothing to map, the job runs
      assert(client:create_job("declared", job("declared", { command = sh("true") },
        { volumes = { { name = "elsewhere", gcs = { bucket = "b" } } } })))
      assert.are.equal(1, finish(client, assert(client:run_job("declared"))).succeededCount)
    end)

    it("mounts a subPath of a --volume-dir directory or a secret volume, not the whole; an emptyDir's is a tmpfs", function()
      local op = assert(client:run_job("subpaths"))
      local e = finish(client, op)
      local log = task_log(emu, op)
      assert.are.equal(1, e.succeededCount, tostring(completed(e).message) .. "\n" .. tostring(log))
      local seen = lines(log)
      assert.is_true(has(seen, "inner.txt"), log)
      assert.is_false(has(seen, "hello.txt"), log) -- the subdirectory alone, not the volume's top
      assert.is_true(has(seen, "inside the subPath"), log)
      assert.is_true(has(seen, "old=db-pass-v1-Q7xK2"), log)
      assert.is_true(has(seen, "one=db-pass-v2-W9mZ4"), log) -- a file of the volume, mounted as a file
      assert.matches("tmpfs /scratch tmpfs ", log, 1, true)
    end)

    it("refuses RunJob (not CreateJob) for a subPath the directory lacks, or one that climbs out", function()
      for _, c in ipairs({ { "sub-missing", "missing", "its subPath 'missing' is not in the volume's directory" },
                           { "sub-climbs", "../shelf", "must be a relative path inside the volume" } }) do
        assert(client:create_job(c[1], job(c[1], { command = sh("true"),
          volumeMounts = { { name = "data", mountPath = "/mnt/d", subPath = c[2] } } },
          { volumes = { { name = "data", gcs = { bucket = "b" } } } })))
        local op, err = client:run_job(c[1])
        assert.is_nil(op)
        assert.are.equal("FAILED_PRECONDITION", err.code)
        assert.matches(c[3], err.message, 1, true)
      end
    end)

    it("fails the attempt, naming it, for a subPath the secret volume lacks", function()
      assert(client:create_job("sub-secret", job("sub-secret", { command = sh("echo ran"),
        volumeMounts = { { name = "api", mountPath = "/etc/k", subPath = "nope" } } },
        { volumes = { { name = "api", secret = { secret = "api-key" } } } })))
      local e = finish(client, assert(client:run_job("sub-secret")))
      assert.are.equal(1, e.failedCount)
      assert.matches("The secret volume 'api' has no file or directory 'nope'", completed(e).message, 1, true)
    end)
  end)

  describe("stops a container", function()
    it("at its timeout: SIGTERM, then killed after the grace; nothing left running", function()
      local t0 = core.monotonic()
      local term = assert(client:run_job("term-timeout"))
      local stubborn = assert(client:run_job("stubborn-timeout")) -- sleep as PID 1 ignores SIGTERM
      local e = finish(client, term)
      assert.are.equal(1, e.failedCount)
      assert.matches("timeout", completed(e).message, 1, true)
      assert.matches("got-sigterm", task_log(emu, term), 1, true)
      e = finish(client, stubborn)
      assert.are.equal(1, e.failedCount)
      assert.matches("timeout", completed(e).message, 1, true)
      assert.is_true(core.monotonic() - t0 < 12, "the stubborn task was not killed after the grace")
      assert.are.same({}, containers("lua-cloudrun.emulator.pid", emu.pid))
      assert.are.same({}, processes_with("sleep " .. nap(1)))
      assert.are.same({}, processes_with("sleep " .. nap(2)))
    end)

    it("when its execution is cancelled: SIGTERM, then killed after the grace; nothing left running", function()
      local op = assert(client:run_job("cancel-me"))
      local stubborn = assert(client:run_job("stubborn-cancel")) -- sleep as PID 1 ignores SIGTERM
      until_logged(emu, op, "ready")
      until_logged(emu, stubborn, "ready")
      assert.are.equal(1, #containers("lua-cloudrun.execution", op.execution))
      assert(client:cancel_execution(op.execution))
      assert(client:cancel_execution(stubborn.execution))
      local e = finish(client, op)
      assert.are.equal(1, e.cancelledCount)
      assert.matches("got-sigterm", task_log(emu, op), 1, true)
      e = finish(client, stubborn)
      assert.are.equal(1, e.cancelledCount)
      assert.are.same({}, containers("lua-cloudrun.emulator.pid", emu.pid))
      assert.are.same({}, processes_with("sleep " .. nap(3)))
      assert.are.same({}, processes_with("sleep " .. nap(7)))
    end)
  end)

  describe("images", function()
    it("fails the execution, naming the image, when a pull fails", function()
      assert(client:create_job("unpullable", job("unpullable", { image = "nosuch.invalid/x:1", command = sh("true") })))
      local op = assert(client:run_job("unpullable", { task_count = 2 }))
      local e = finish(client, op)
      assert_failed_before_start(emu, client, op, e)
      assert.matches("Image 'nosuch.invalid/x:1' could not be pulled", completed(e).message, 1, true)
    end)

    describe("with --pull never and no --secrets", function()
      local never, nclient

      setup(function()
        never = h.emulator{ args = { "--runtime", "podman", "--pull", "never" }, env = { CONTAINERS_CONF = CONF },
          jobs = { job("absent", { image = "localhost/cloudrun-test-absent:1", command = sh("true") }),
                   job("needs-secret", { command = sh("echo ran"),
                     env = { { name = "S", valueSource = { secretKeyRef = { secret = "db-password", version = "latest" } } } } }) } }
        nclient = h.client(never.host)
      end)

      teardown(function()
        remove_containers_of(never)
        if never then never.stop() end
      end)

      it("fails the execution, naming the image, when the image is not on the machine", function()
        local op = assert(nclient:run_job("absent", { task_count = 2 }))
        local e = finish(nclient, op)
        assert_failed_before_start(never, nclient, op, e)
        assert.matches("Image 'localhost/cloudrun-test-absent:1' is not on this machine", completed(e).message, 1, true)
        assert.matches("--pull never", completed(e).message, 1, true)
      end)

      it("fails the execution for a secret, saying that there is no --secrets", function()
        local op = assert(nclient:run_job("needs-secret"))
        local e = finish(nclient, op)
        assert_failed_before_start(never, nclient, op, e)
        assert.matches("Secret 'projects/test-project/secrets/db-password' version 'latest'", completed(e).message, 1, true)
        assert.matches("without --secrets", completed(e).message, 1, true)
      end)
    end)
  end)

  describe("leftovers", function()
    local made, sleeper, second = {}, nil, nil

    teardown(function()
      for _, name in ipairs(made) do podman("rm -f -t 0 " .. h.sh_quote(name)) end
      if sleeper then h.stop(sleeper.pid, sleeper.pipe) end
      remove_containers_of(second)
      if second then second.stop() end
    end)

    --- A container made by hand with the labels of emulator PID started at START.
    local function leftover(name, pid, start, how)
      made[#made + 1] = name
      local out, rc = podman(("%s --name %s --label lua-cloudrun.emulator.pid=%s --label lua-cloudrun.emulator.start=%s "
        .. "--label lua-cloudrun.execution=%s --label lua-cloudrun.task=0 --entrypoint /bin/sleep %s %s"):format(
        how, h.sh_quote(name), pid, start, h.sh_quote(JOBS .. "gone/executions/gone-x1"), IMAGE, nap(4)))
      assert(rc == 0, out)
    end

    it("are removed when an emulator starts if their emulator is dead; a live emulator's are kept", function()
      -- the live emulator (this suite's) runs a task
      local op = assert(client:run_job("hold"))
      until_logged(emu, op, "ready")
      local live = containers("lua-cloudrun.execution", op.execution)
      assert.are.equal(1, #live)

      -- a dead emulator's container, made and never started
      local dead = h.run("sh -c 'echo $$'"):match("%d+")
      assert.is_nil(h.read("/proc/" .. dead .. "/stat"))
      leftover("cloudrun-leftover-dead-" .. dead, dead, 12345, "create")
      -- a running one whose PID lives again, in another process (another starttime)
      local p = io.popen("exec 2>/dev/null; echo $$; exec sleep 60")
      sleeper = { pid = p:read("*l"), pipe = p }
      leftover("cloudrun-leftover-reused-" .. sleeper.pid, sleeper.pid, starttime(sleeper.pid) + 1, "run -d")
      assert.are.equal(1, #processes_with("sleep " .. nap(4)))

      second = h.emulator{ args = { "--runtime", "podman" }, env = { CONTAINERS_CONF = CONF } }
      for _, name in ipairs(made) do
        wait_for(name .. " removed", function() return not exists(name) end, 5)
      end
      assert.are.same({}, processes_with("sleep " .. nap(4)))
      assert.is_true(exists(live[1]), "the live emulator's container was removed")
      local e = finish(client, op)
      assert.are.equal(1, e.succeededCount)
      assert.matches("done", task_log(emu, op), 1, true)
    end)

    it("are not made by an emulator stopped while its task runs", function()
      assert(second, "the emulator of the case above did not start")
      local c2 = h.client(second.host)
      assert(c2:create_job("stopped", job("stopped", { command = trapping(6) })))
      local op = assert(c2:run_job("stopped"))
      until_logged(second, op, "ready")
      local pid = second.pid
      second.stop()
      second = nil
      assert.are.same({}, containers("lua-cloudrun.emulator.pid", pid))
      assert.are.same({}, processes_with("sleep " .. nap(6)))
    end)
  end)

  describe("at start", function()
    --- Runs the emulator with `args` (and env assignments `env`), expecting it to exit.
    local function start(env, args)
      local cmd = "timeout 20 env CONTAINERS_CONF=" .. h.sh_quote(CONF) .. " " .. env .. " "
        .. h.sh_quote(h.bin .. "/cloudrun") .. " emulator --port 0 --quiet"
      for _, a in ipairs(args) do cmd = cmd .. " " .. h.sh_quote(a) end
      return h.run(cmd .. " 2>&1 </dev/null")
    end

    it("exits 1, saying so, when the runtime is not on PATH", function()
      local out, rc = start("PATH=/nonexistent", { "--runtime", "podman" })
      assert.are.equal(1, rc, out)
      assert.matches("podman", out, 1, true)
    end)

    it("exits 1, saying so, when docker does not answer", function()
      if not DOCKER then pending("no docker CLI on this machine (the docker runtime is driven through it)") return end
      local out, rc = start("DOCKER_HOST=unix://" .. tmp .. "/nobody.sock", { "--runtime", "docker" })
      assert.are.equal(1, rc, out)
      assert.matches("docker", out, 1, true)
    end)

    it("refuses a malformed --secrets file (exit 2), naming the file and the key", function()
      local file = tmp .. "/bad-secrets.yaml"
      h.write(file, "db-password:\n  first: not-a-version\n")
      local out, rc = start("", { "--runtime", "podman", "--secrets", file })
      assert.are.equal(2, rc, out)
      assert.matches(file, out, 1, true)
      assert.is_truthy(out:find("db-password", 1, true) or out:find("first", 1, true), out)
      assert.is_nil(out:find("not-a-version", 1, true), out) -- a value is never quoted back
    end)

    it("refuses a --volume-dir whose directory does not exist, naming it", function()
      local out, rc = start("", { "--runtime", "podman", "--volume-dir", "data=" .. tmp .. "/no-such-dir" })
      assert.are_not.equal(0, rc, out)
      assert.matches(tmp .. "/no-such-dir", out, 1, true)
    end)
  end)
end)

describe("the emulator's docker runtime (podman's Docker API)", function()
  local tmp, service, emu, client

  setup(function()
    if not DOCKER then return end
    local out, rc = h.run("CONTAINERS_CONF=" .. h.sh_quote(CONF) .. " "
      .. h.sh_quote(SRC .. "/tests/containers/build-images") .. " 2>&1")
    assert(rc == 0, "tests/containers/build-images failed: " .. out)
    tmp = h.tmpdir()
    local sock = "unix://" .. tmp .. "/docker.sock"
    local p = io.popen("exec 2>/dev/null; echo $$; exec env CONTAINERS_CONF=" .. h.sh_quote(CONF)
      .. " podman system service --time=0 " .. h.sh_quote(sock))
    service = { pid = p:read("*l"), pipe = p }
    wait_for("podman's Docker API", function()
      return select(2, h.run("DOCKER_HOST=" .. h.sh_quote(sock) .. " docker version >/dev/null 2>&1")) == 0
    end)
    emu = h.emulator{
      args = { "--runtime", "docker" },
      env = { DOCKER_HOST = sock, CONTAINERS_CONF = CONF },
      jobs = {
        job("record", { command = sh(RECORD), args = { "default-arg" } }),
        job("stubborn", { command = sh("echo ready; exec sleep " .. nap(5)) }),
      },
    }
    client = h.client(emu.host)
  end)

  teardown(function()
    remove_containers_of(emu)
    if emu then emu.stop() end
    if service then h.stop(service.pid, service.pipe) end
    if tmp then os.execute("rm -rf " .. h.sh_quote(tmp)) end
  end)

  it("runs the tasks with the overrides, their output in the task logs", function()
    if not DOCKER then pending("no docker CLI on this machine (the docker runtime is driven through it)") return end
    local op = assert(client:run_job("record", { args = { "via", "docker" }, env = { ID = "7" }, task_count = 2 }))
    local e = finish(client, op)
    assert.are.equal(2, e.succeededCount, tostring(completed(e).message))
    for i = 0, 1 do
      local seen = lines(task_log(emu, op, i))
      assert.is_true(has(seen, "arg=via"))
      assert.is_true(has(seen, "arg=docker"))
      assert.is_false(has(seen, "arg=default-arg"))
      assert.is_true(has(seen, "ID=7"))
      assert.is_true(has(seen, "CLOUD_RUN_TASK_INDEX=" .. i))
      assert.is_true(has(seen, "CLOUD_RUN_TASK_COUNT=2"))
      assert.is_true(has(seen, "CLOUD_RUN_EXECUTION=" .. short(op.execution)))
    end
  end)

  it("cancels: the container is killed after the grace, nothing left running", function()
    if not DOCKER then pending("no docker CLI on this machine (the docker runtime is driven through it)") return end
    local op = assert(client:run_job("stubborn")) -- sleep as PID 1 ignores SIGTERM
    until_logged(emu, op, "ready")
    assert.are.equal(1, #containers("lua-cloudrun.execution", op.execution))
    assert(client:cancel_execution(op.execution))
    local e = finish(client, op)
    assert.are.equal(1, e.cancelledCount)
    assert.are.same({}, containers("lua-cloudrun.emulator.pid", emu.pid))
    assert.are.same({}, processes_with("sleep " .. nap(5)))
  end)
end)

describe("the process runtime", function()
  local tmp, emu, client

  setup(function()
    tmp = h.tmpdir()
    h.write(tmp .. "/secrets.json", core.json_encode(SECRETS))
    emu = h.emulator{
      args = { "--secrets", tmp .. "/secrets.json" }, -- the default runtime: process
      jobs = {
        { name = JOBS .. "secret-env", template = { template = { maxRetries = 0, containers = { {
          image = IMAGE, command = sh('echo "DB_LATEST=$DB_LATEST"; echo "DB_V1=$DB_V1"; echo "API_KEY=$API_KEY"'),
          env = { { name = "DB_LATEST", valueSource = { secretKeyRef = { secret = "db-password", version = "latest" } } },
                  { name = "DB_V1", valueSource = { secretKeyRef = { secret = "db-password", version = "1" } } },
                  { name = "API_KEY", valueSource = { secretKeyRef = { secret = "api-key", version = "latest" } } } },
        } } } } },
      },
    }
    client = h.client(emu.host)
  end)

  teardown(function()
    if emu then emu.stop() end
    if tmp then os.execute("rm -rf " .. h.sh_quote(tmp)) end
  end)

  it("puts secretKeyRef values (from a JSON --secrets file) in the env too", function()
    local op = assert(client:run_job("secret-env"))
    local e = finish(client, op)
    assert.are.equal(1, e.succeededCount, tostring(completed(e).message))
    local seen = lines(task_log(emu, op))
    assert.is_true(has(seen, "DB_LATEST=db-pass-v2-W9mZ4"))
    assert.is_true(has(seen, "DB_V1=db-pass-v1-Q7xK2"))
    assert.is_true(has(seen, "API_KEY=api-key-plain-R3tP8"))
  end)

  it("refuses RunJob (not CreateJob) for a volume mount, naming --runtime", function()
    assert(client:create_job("mounted", job("mounted", { command = sh("true"),
      volumeMounts = { { name = "scratch", mountPath = "/scratch" } } },
      { volumes = { { name = "scratch", emptyDir = { medium = "MEMORY" } } } })))
    local op, err = client:run_job("mounted")
    assert.is_nil(op)
    assert.are.equal("FAILED_PRECONDITION", err.code)
    assert.matches("volume mount 'scratch' at /scratch needs a container runtime", err.message, 1, true)
    assert.matches("--runtime podman", err.message, 1, true)
  end)
end)
