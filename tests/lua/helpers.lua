-- Test helpers shared by the specs: start the real emulator (and the fake
-- Google token/metadata server) on a free loopback port, make temp dirs.
local M = {}

local BIN = assert(os.getenv("CLOUDRUN_BIN_DIR"), "CLOUDRUN_BIN_DIR must point at the build's bin/")
M.bin = BIN

local function sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.sh_quote = sh_quote

function M.tmpdir()
  local p = io.popen("mktemp -d")
  local d = p:read("*l")
  p:close()
  return d
end

function M.write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

function M.read(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

--- Stops a process started by M.spawn: SIGTERM, then SIGKILL if it is still
-- there after 5 s, so that a stuck server can never hang the suite. The
-- process is our child, so once it has exited it stays a zombie (which
-- `kill -0` still finds) until pipe:close() reaps it: gone or a zombie is done.
function M.stop(pid, pipe)
  os.execute(("kill %s 2>/dev/null; for i in $(seq 1 50); do "
    .. "s=$(sed -n 's/^State:[[:space:]]*\\(.\\).*/\\1/p' /proc/%s/status 2>/dev/null); "
    .. "[ -z \"$s\" ] || [ \"$s\" = Z ] && exit 0; sleep 0.1; done; "
    .. "kill -9 %s 2>/dev/null"):format(pid, pid, pid))
  pipe:close()
end

--- Starts `cmd` (shell words, optionally led by VAR=value assignments) with
-- its stdout on a pipe; returns {pid=, pipe=, match=} where match is the
-- capture of `pattern` in the first line that has it (a server's "listening"
-- line). The shell prints its pid and then becomes the command (exec), so
-- the pid is the server's and comes first, whatever the server prints.
function M.spawn(cmd, pattern)
  local p = assert(io.popen("exec 2>/dev/null; echo $$; exec env " .. cmd, "r"))
  local pid = p:read("*l")
  for _ = 1, 50 do
    local line = p:read("*l")
    if not line then break end
    local m = line:match(pattern)
    if m then return { pid = pid, pipe = p, match = m } end
  end
  p:close()
  error("could not start: " .. cmd)
end
local spawn = M.spawn

--- M.emulator{jobs = table_or_nil, env = {K=V}, args = {...}, stderr = bool}
-- -> {host=, pid=, dir=, stderr=, stop=function}
-- args: more emulator arguments (e.g. {"--runtime", "podman"}). stderr: its
-- stderr goes to the file e.stderr, without --quiet (its log lines are what
-- the test reads; when it cannot start, the error has them); otherwise it runs
-- --quiet, stderr dropped.
function M.emulator(opts)
  opts = opts or {}
  local dir = M.tmpdir()
  local args = { sh_quote(BIN .. "/cloudrun"), "emulator", "--port", "0", "--log-dir", sh_quote(dir .. "/logs") }
  if not opts.stderr then args[#args + 1] = "--quiet" end
  if opts.jobs then
    local core = require("cloudrun.core")
    M.write(dir .. "/jobs.json", core.json_encode({ jobs = opts.jobs }))
    args[#args + 1] = "--jobs"
    args[#args + 1] = sh_quote(dir .. "/jobs.json")
  end
  for _, a in ipairs(opts.args or {}) do args[#args + 1] = sh_quote(a) end
  if opts.stderr then args[#args + 1] = "2>" .. sh_quote(dir .. "/stderr") end
  local env = ""
  for k, v in pairs(opts.env or {}) do env = env .. k .. "=" .. sh_quote(v) .. " " end
  os.execute("mkdir -p " .. sh_quote(dir .. "/logs"))
  local ok, s = pcall(spawn, env .. table.concat(args, " "), "^cloudrun emulator listening on http://(.*)$")
  if not ok then
    local why = opts.stderr and M.read(dir .. "/stderr") or ""
    os.execute("rm -rf " .. sh_quote(dir))
    error(s .. "\n" .. why, 2)
  end
  local e = { host = s.match, pid = s.pid, dir = dir, stderr = opts.stderr and dir .. "/stderr" or nil }
  function e.stop()
    M.stop(s.pid, s.pipe)
    os.execute("rm -rf " .. sh_quote(dir))
  end
  return e
end

--- The emulator's control API (/emulator/v1/...), through curl: fault
-- injection and call counts. Returns the decoded answer.
function M.control(host, method, path, body)
  local cmd = ("curl -sS -X %s %s"):format(method, M.sh_quote("http://" .. host .. "/emulator/v1/" .. path))
  if body then
    cmd = cmd .. " -H 'Content-Type: application/json' --data " .. M.sh_quote(require("cloudrun.core").json_encode(body))
  end
  local out, rc = M.run(cmd)
  assert(rc == 0, "curl failed: " .. out)
  return assert(require("cloudrun.core").json_decode(out))
end

--- GET a JSON document with curl (a test server's /stats).
function M.control_url(url)
  local out, rc = M.run("curl -sS " .. M.sh_quote(url))
  assert(rc == 0, "curl failed: " .. out)
  return assert(require("cloudrun.core").json_decode(out))
end

--- A client for the emulator at `host`, the way users reach it: CLOUD_RUN_EMULATOR_HOST.
function M.client(host, extra)
  local cloudrun = require("cloudrun")
  local opts = { project = "test-project", region = "us-central1", endpoint = "http://" .. host, credentials = false }
  for k, v in pairs(extra or {}) do opts[k] = v end
  return assert(cloudrun.client(opts))
end

--- A job definition whose single container runs /bin/sh -c SCRIPT.
function M.sh_job(name, script, extra)
  local job = {
    name = "projects/test-project/locations/us-central1/jobs/" .. name,
    template = {
      taskCount = 1,
      template = {
        maxRetries = 0,
        containers = { {
          image = "example/test:latest",
          command = { "/bin/sh", "-c", script, "sh" },
          args = { "default-arg" },
          env = { { name = "FROM_JOB", value = "job-value" }, { name = "SHARED", value = "job" } },
        } },
      },
    },
  }
  for k, v in pairs(extra or {}) do job.template[k] = v end
  return job
end

--- Runs a shell command; returns its stdout, and its exit code.
function M.run(cmd)
  local p = io.popen(cmd .. "; echo \"__rc=$?\"")
  local out = p:read("*a")
  p:close()
  local rc = tonumber(out:match("__rc=(%d+)%s*$"))
  return out:gsub("__rc=%d+%s*$", ""), rc
end

return M
