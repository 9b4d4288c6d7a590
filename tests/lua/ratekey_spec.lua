-- Issue 24's rate limits and idempotent triggers. cloudrun.rate's rule on its
-- own (a fake clock; its own state, and a dict's), then against the emulator:
-- the createTimes of the executions show how RunJobs were spaced, its
-- /emulator/v1/stats what was sent, its faults lose answers; cr-fake-google's
-- token endpoint shows that a token fetch counts against no quota; and inside
-- nginx two workers share one budget and one key's lock through a
-- lua_shared_dict. That every driver gives the same outcomes for the same
-- cases is drivers_spec.lua's (driver_cases.lua); the CLI's --idempotency-key
-- is cli_spec.lua's; the example's double request is openresty_spec.lua's.
local cloudrun = require("cloudrun")
local core = require("cloudrun.core")
local rate = require("cloudrun.rate")
local idempotency = require("cloudrun.idempotency")
local h = require("helpers")
local harness = require("nginx_harness")

local FAKE = assert(os.getenv("CR_FAKE_GOOGLE"), "CR_FAKE_GOOGLE: the cr-fake-google binary")

-- The smallest gap between the createTimes of a list of executions (and them in time order).
local function gaps(executions)
  local times = {}
  for i, e in ipairs(executions) do times[i] = assert(idempotency.unix(e.createTime), e.createTime) end
  table.sort(times)
  local least = math.huge
  for i = 2, #times do least = math.min(least, times[i] - times[i - 1]) end
  return least, times
end

describe("cloudrun.rate", function()
  local t
  local function clock() return t end

  -- {at, quota, held}: at time `at`, a request of `quota` is held `held` seconds
  local SEQUENCE = {
    { 1000, "read", 0 }, { 1000, "read", 0.5 }, { 1000, "read", 1.0 },  -- 120 a minute: 0.5 s apart from the first
    { 1000.7, "read", 0.8 },                                              -- after the last reserved, not after now
    { 1000.7, "run", 0 }, { 1000.7, "run", 2 }, { 1000.7, "run", 4 },     -- 30 a minute, apart from the reads
    { 1000.7, "write", 0 }, { 1000.7, "write", 0 },                      -- no limit: never held
    { 1010, "read", 0 }, { 1010, "read", 0.5 },                           -- idle time saves up no burst
  }

  local function limiter(dict)
    return rate.new({ read_per_minute = 120, run_per_minute = 30 }, { now = clock, dict = dict,
      sleep = function(s) t = t + s end })
  end

  for _, backend in ipairs({ "its own state", "a shared dict" }) do
    it("spaces each quota's requests 60/per_minute s apart, the first at once, with " .. backend, function()
      t = 1000
      local l = limiter(backend == "a shared dict" and idempotency.memory(clock) or nil)
      for i, step in ipairs(SEQUENCE) do
        t = step[1]
        local held, at = l:take(step[2])
        assert.is_near(step[3], held, 1e-9, "step " .. i)
        assert.is_near(t + step[3], at, 1e-9, "step " .. i)
      end
    end)

    it("holds a quota's requests through the pause a 429 asked for, with " .. backend, function()
      t = 1000
      local l = limiter(backend == "a shared dict" and idempotency.memory(clock) or nil)
      l:slow_down("run", 3)
      l:slow_down("run", 1) -- a shorter pause does not shorten it
      assert.is_near(3, l:take("run"), 1e-9)
      assert.is_near(5, l:take("run"), 1e-9) -- and spacing goes on from there
      assert.are.equal(0, l:take("read"))   -- the other quotas are not held
      l:slow_down("write", 2)
      assert.are.equal(2, l:take("write"))
      assert.are.equal(2, l:take("write")) -- without a limit, all of them wait for the end, no more
      l:slow_down("read", -1)
      l:slow_down("read", 0 / 0)
      assert.are.equal(0.5, l:take("read"))
      -- not_before
      assert.are.equal(5, l:take("read", 1005))
      assert.are.equal(5.5, l:take("read"))
    end)
  end

  it("takes a dict's lock another worker holds only once it is free", function()
    t = 1000
    local dict = idempotency.memory(clock)
    local slept = 0
    local l = rate.new({ read_per_minute = 60 }, { now = clock, dict = dict, sleep = function(s)
      slept = slept + s
      t = t + s
      if slept > 0.01 then dict:delete("cloudrun:rate:read:lock") end -- the other worker is done
    end })
    dict:add("cloudrun:rate:read:lock", true, 0.1)
    local held = l:take("read")
    assert.is_true(slept > 0.01)
    assert.are.equal(0, held) -- counted from when it got the lock
    assert.is_nil(dict:get("cloudrun:rate:read:lock"))
    assert.is_near(1, l:take("read"), 1e-9)
  end)

  it("spaces one run's RunJobs by its per_minute within the client's budget", function()
    t = 1000
    local client = rate.new({ run_per_minute = 120 }, { now = clock })
    local function one_at_a_time(fn) return fn() end
    local run = rate.for_run(client, 60, clock, one_at_a_time)
    assert.are.equal(0, run("run"))
    assert.are.equal(1, run("run"))
    assert.are.equal(2, run("run"))
    assert.are.equal(2.5, client:take("run")) -- another caller of the client: after the run's last
    assert.are.equal(3, run("run"))            -- the run's next: after both
    assert.are.equal(0, run("read"))           -- other quotas: the client's alone
    -- the client's budget the slower one
    t = 2000
    local slow = rate.new({ run_per_minute = 30 }, { now = clock })
    local fast = rate.for_run(slow, 600, clock, one_at_a_time)
    assert.are.same({ 0, 2, 4 }, { fast("run"), fast("run"), fast("run") })
  end)

  it("refuses a rate table it cannot keep, naming the field", function()
    for _, bad in ipairs({
      { "x", "must be a table" }, { { reads = 1 }, "unknown field 'reads'" },
      { { read_per_minute = 0 }, "'read_per_minute' must be a number" },
      { { run_per_minute = 0 / 0 }, "'run_per_minute' must be a number" },
      { { write_per_minute = math.huge }, "'write_per_minute' must be a number" },
      { { run_per_minute = "60" }, "'run_per_minute' must be a number" },
    }) do
      local ok, err = pcall(cloudrun.client, { project = "p", region = "r", endpoint = "http://127.0.0.1:9",
        credentials = false, rate = bad[1] })
      assert.is_false(ok)
      assert.matches("client: option 'rate'", err, 1, true)
      assert.matches(bad[2], err, 1, true)
    end
    local c = h.client("127.0.0.1:9")
    for _, bad in ipairs({ 0, -1, "60", 0 / 0 }) do
      local ok, err = pcall(c.run_jobs, c, { { job = "j" } }, { per_minute = bad })
      assert.is_false(ok)
      assert.matches("run_jobs: option 'per_minute' must be a number", err, 1, true)
    end
  end)
end)

describe("cloudrun.idempotency", function()
  it("reads RFC 3339 times as Unix seconds", function()
    assert.are.equal(0, idempotency.unix("1970-01-01T00:00:00Z"))
    assert.are.equal(1796725272.25, idempotency.unix("2026-12-08T10:21:12.250Z"))
    assert.are.equal(1796725272.25, idempotency.unix("2026-12-08T19:21:12.25+09:00"))
    assert.are.equal(951782400, idempotency.unix("2000-02-29T00:00:00Z"))
    for _, bad in ipairs({ "2026-12-08", "2026-12-08T10:21:12", "yesterday", 42 }) do
      assert.is_nil(idempotency.unix(bad), tostring(bad))
    end
  end)

  it("puts the key in the env of the container overridden, or of each one of `containers`", function()
    local opts = { args = { "a" }, env = { A = "1" }, idempotency_key = "k", idempotency_window = 60 }
    local o = idempotency.overrides(opts, "k", "run_job", 1)
    assert.are.same({ args = { "a" }, env = { A = "1", CLOUDRUN_IDEMPOTENCY_KEY = "k" } }, o)
    assert.are.same({ A = "1" }, opts.env) -- the caller's tables stay as they were
    o = idempotency.overrides({ env = { { name = "A", value = "1" } } }, "k", "run_job", 1)
    assert.are.same({ { name = "A", value = "1" }, { name = "CLOUDRUN_IDEMPOTENCY_KEY", value = "k" } }, o.env)
    o = idempotency.overrides({}, "k", "run_job", 1)
    assert.are.same({ CLOUDRUN_IDEMPOTENCY_KEY = "k" }, o.env)
    o = idempotency.overrides({ containers = { main = { args = { "x" } }, side = { env = { B = "2" } } } }, "k",
      "run_job", 1)
    assert.are.same({ main = { args = { "x" }, env = { CLOUDRUN_IDEMPOTENCY_KEY = "k" } },
                      side = { env = { B = "2", CLOUDRUN_IDEMPOTENCY_KEY = "k" } } }, o.containers)
    assert.is_nil(o.env)
    -- the same key in the env is fine; another value is misuse
    o = idempotency.overrides({ env = { CLOUDRUN_IDEMPOTENCY_KEY = "k" } }, "k", "run_job", 1)
    assert.are.same({ CLOUDRUN_IDEMPOTENCY_KEY = "k" }, o.env)
    assert.has_error(function() idempotency.overrides({ env = { CLOUDRUN_IDEMPOTENCY_KEY = "j" } }, "k", "run_job", 1) end)
  end)

  it("finds the key in any container's env of an Execution's template", function()
    local e = { template = { containers = { { env = { { name = "A", value = "k" } } },
      { env = { { name = "CLOUDRUN_IDEMPOTENCY_KEY", value = "k" } } } } } }
    assert.is_true(idempotency.carries(e, "k"))
    assert.is_false(idempotency.carries(e, "K"))
    assert.is_false(idempotency.carries({ template = {} }, "k"))
    assert.is_false(idempotency.carries({}, "k"))
  end)

  it("refuses a key or window it cannot keep", function()
    local c = h.client("127.0.0.1:9")
    for _, bad in ipairs({
      { { idempotency_key = "" }, "'idempotency_key' must be a non-empty string" },
      { { idempotency_key = ("x"):rep(513) }, "at most 512 bytes" },
      { { idempotency_key = "a\0b" }, "without NUL" },
      { { idempotency_key = {} }, "(got table)" },
      { { idempotency_key = "k", idempotency_window = 0 }, "'idempotency_window' must be a number of seconds" },
      { { idempotency_key = "k", idempotency_window = "1d" }, "'idempotency_window' must be" },
      { { idempotency_window = 10 }, "'idempotency_window' needs 'idempotency_key'" },
      { { idempotency_key = "k", env = { CLOUDRUN_IDEMPOTENCY_KEY = "other" } }, "is the idempotency key's" },
    }) do
      local ok, err = pcall(c.run_job, c, "j", bad[1])
      assert.is_false(ok, bad[2])
      assert.matches("run_job: ", err, 1, true)
      assert.matches(bad[2], err, 1, true)
      ok, err = pcall(c.run_jobs, c, { { job = "j" }, { job = "j", env = bad[1].env,
        idempotency_key = bad[1].idempotency_key, idempotency_window = bad[1].idempotency_window } })
      assert.is_false(ok, bad[2])
      assert.matches("run_jobs: entry 2: ", err, 1, true)
    end
  end)
end)

describe("rate limits and idempotent triggers against the emulator", function()
  local emu, out, dir

  local function stats() return h.control(emu.host, "GET", "stats").calls end
  local function calls(before, rpc) return (stats()[rpc] or 0) - (before[rpc] or 0) end
  local function executions(job)
    return (assert(h.client(emu.host):list_executions(job, { page_size = 1000 })).executions or {})
  end

  setup(function()
    out = h.tmpdir()
    dir = h.tmpdir()
    emu = h.emulator{
      jobs = {
        h.sh_job("hello", "exit 0"),
        h.sh_job("keyed", 'echo "$CLOUDRUN_IDEMPOTENCY_KEY" > "$OUT/$CLOUDRUN_IDEMPOTENCY_KEY"'),
        h.sh_job("slow", "sleep 2"),
        h.sh_job("spaced", "exit 0"),
        h.sh_job("pages", "exit 0"),
      },
      env = { OUT = out },
    }
  end)

  teardown(function()
    if emu then emu.stop() end
    os.execute("rm -rf " .. h.sh_quote(out) .. " " .. h.sh_quote(dir))
  end)

  it("starts run_jobs' RunJobs one every 60/per_minute s, the first at once", function()
    local c = h.client(emu.host)
    local list = {}
    for i = 1, 6 do list[i] = { job = "spaced", args = { tostring(i) } } end
    local t0, wall0 = core.monotonic(), core.time()
    local results, failed = c:run_jobs(list, { in_flight = 6, per_minute = 240 })
    local took = core.monotonic() - t0
    assert.are.equal(0, failed)
    local least, times = gaps(executions("spaced"))
    assert.are.equal(6, #times)
    -- spaced as they leave the client; the server sees each a connection's set-up later (a few
    -- ms; more on a loaded machine), so its createTimes may come a little closer
    assert.is_true(least >= 0.25 * 0.8, ("RunJobs %.3f s apart"):format(least))
    assert.is_true(times[1] - wall0 < 0.2, ("the first started after %.3f s"):format(times[1] - wall0))
    assert.is_true(took >= 1.24 and took < 3, ("took %.2f s"):format(took))
    print(("\n  # run_jobs of 6 at per_minute = 240: createTimes %.3f s apart at least, %.2f s in all"):format(
      least, took))
    assert.are.equal(6, #results)
  end)

  it("holds every call of a client to its rate, the polls of wait included", function()
    local c = h.client(emu.host, { rate = { read_per_minute = 60 } })
    local op = assert(c:run_job("slow"))
    local before = stats()
    local t0 = core.monotonic()
    local e = assert(c:wait(op, { interval = 0.05 }))
    local took = core.monotonic() - t0
    assert.is_truthy(e.completionTime)
    local polls = calls(before, "GetExecution")
    -- unheld, polls from 0.05 s growing by 1.5x would make ten or so in 2 s
    assert.is_true(polls <= math.floor(took) + 1, ("%d polls in %.2f s"):format(polls, took))
    assert.is_true(took >= polls - 1 - 0.05, ("%d polls in %.2f s"):format(polls, took))
    -- the run quota is a budget of its own: not held by the reads
    t0 = core.monotonic()
    assert(c:run_job("hello"))
    assert.is_true(core.monotonic() - t0 < 0.5)
  end)

  it("holds the calls after a 429, not just the one refused, and counts no token fetch", function()
    local s = h.spawn(("%s --port 0"):format(h.sh_quote(FAKE)), "^fake%-google listening on 127%.0%.0%.1:(%d+)$")
    local ok, err = pcall(function()
      local out_, rc = h.run(("cd %s && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out k.pem 2>&1")
        :format(h.sh_quote(dir)))
      assert(rc == 0, out_)
      local key = dir .. "/key.json"
      h.write(key, cloudrun.json.encode{ type = "service_account", project_id = "p", private_key_id = "k1",
        private_key = assert(h.read(dir .. "/k.pem")), client_email = "rate@p.iam.gserviceaccount.com",
        client_id = "1", token_uri = "http://127.0.0.1:" .. s.match .. "/token" })
      local c = assert(cloudrun.client{ project = "test-project", region = "us-central1",
        endpoint = "http://" .. emu.host, credentials = key, rate = { read_per_minute = 30 },
        retry = { attempts = 1 } })
      -- the token fetch before the first call is not a Cloud Run request: nothing holds it
      local t0 = core.monotonic()
      assert(c:get_job("hello"))
      assert.is_true(core.monotonic() - t0 < 1, "the first call was held")
      assert.are.equal(1, h.control_url("http://127.0.0.1:" .. s.match .. "/stats").token_requests)
      t0 = core.monotonic()
      assert(c:get_job("hello"))
      assert.is_true(core.monotonic() - t0 >= 1.9, "the second read was not held")
      -- a 429 with Retry-After 1.5 on a run: the next run waits it out too (this one gave up at once)
      h.control(emu.host, "POST", "faults", { method = "RunJob", fault = "resource_exhausted", retry_after = 1.5 })
      local op, rerr = c:run_job("hello")
      assert.is_nil(op)
      assert.are.equal("RESOURCE_EXHAUSTED", rerr.code)
      t0 = core.monotonic()
      assert(c:run_job("hello"))
      local held = core.monotonic() - t0
      assert.is_true(held >= 1.3, ("the next RunJob went after %.2f s"):format(held))
    end)
    h.stop(s.pid, s.pipe)
    assert(ok, err)
  end)

  it("starts one execution for the same key twice, and the second costs no listing", function()
    local c = h.client(emu.host)
    local before, key = stats(), "order-" .. core.time()
    local first = assert(c:run_job("keyed", { idempotency_key = key }))
    assert.is_nil(first.deduplicated)
    local second = assert(c:run_job("keyed", { idempotency_key = key }))
    assert.are.same({ execution = first.execution, deduplicated = true }, second)
    -- another client of this process remembers it as well
    local third = assert(h.client(emu.host):run_job("keyed", { idempotency_key = key }))
    assert.are.equal(first.execution, third.execution)
    assert.are.equal(1, calls(before, "RunJob"))
    assert.are.equal(1, calls(before, "ListExecutions"))
    -- wait takes the answer as it takes an Operation; the task read the key
    local e = assert(c:wait(second, { timeout = 30 }))
    assert.are.equal(first.execution, e.name)
    assert.are.equal(key .. "\n", h.read(out .. "/" .. key))
    -- the key is in the Execution's template, as Cloud Run writes its overrides there
    assert.is_true(idempotency.carries(assert(c:get_execution(first.execution)), key))
  end)

  it("looks again after a keyed RunJob's answer is lost: it is sent once and its execution returned", function()
    local c = h.client(emu.host)
    local n0, key = #executions("keyed"), "lost-" .. core.time()
    local before = stats()
    h.control(emu.host, "POST", "faults", { method = "RunJob", fault = "reset_after_effect" })
    local r = assert(c:run_job("keyed", { idempotency_key = key }))
    assert.is_true(r.deduplicated)
    assert.is_true(r.recovered)
    assert.are.equal(1, calls(before, "RunJob"))
    assert.are.equal(2, calls(before, "ListExecutions"))
    assert.are.equal(n0 + 1, #executions("keyed"))
    assert.are.equal(r.execution, executions("keyed")[1].name)
    assert.are.equal(r.execution, assert(c:wait(r, { timeout = 30 })).name)
    -- and it is remembered: a second call neither lists nor sends
    before = stats()
    assert.are.equal(r.execution, assert(c:run_job("keyed", { idempotency_key = key })).execution)
    assert.are.same({}, (function()
      local d = {}
      for rpc, n in pairs(stats()) do if n ~= (before[rpc] or 0) then d[rpc] = n - (before[rpc] or 0) end end
      return d
    end)())
  end)

  it("keeps today's error when an unkeyed RunJob's answer is lost: never sent again", function()
    local c = h.client(emu.host)
    local n0 = #executions("keyed")
    local before = stats()
    h.control(emu.host, "POST", "faults", { method = "RunJob", fault = "reset_after_effect" })
    local op, err = c:run_job("keyed", { env = { CLOUDRUN_IDEMPOTENCY_KEY = "not-a-key" } })
    assert.is_nil(op)
    assert.are.equal("UNAVAILABLE", err.code)
    assert.is_true(err.sent)
    assert.are.equal(1, calls(before, "RunJob"))
    assert.are.equal(0, calls(before, "ListExecutions"))
    assert.are.equal(n0 + 1, #executions("keyed"))
  end)

  it("starts a new execution once the key's window has passed", function()
    local c = h.client(emu.host)
    local key = "late-" .. core.time()
    local first = assert(c:run_job("keyed", { idempotency_key = key }))
    core.sleep(1.3)
    -- remembered for a day, but this call's window is a second
    local before = stats()
    local second = assert(c:run_job("keyed", { idempotency_key = key, idempotency_window = 1 }))
    assert.is_nil(second.deduplicated)
    assert.are_not.equal(first.execution, second.execution)
    assert.are.equal(1, calls(before, "ListExecutions")) -- the listing stops at the first one older than the window
    -- with the default window the same key finds the newest of them again
    assert.are.equal(second.execution, assert(c:run_job("keyed", { idempotency_key = key })).execution)
  end)

  it("looks through pages newest first and stops at the first execution older than the window", function()
    local c = h.client(emu.host)
    local key = "paged-" .. core.time()
    local keyed = assert(c:run_job("pages", { idempotency_key = key }))
    for _ = 1, 5 do assert(c:run_job("pages")) end
    local page_size = idempotency.PAGE_SIZE
    idempotency.PAGE_SIZE = 2
    local ok, err = pcall(function()
      local keys = idempotency.new{ client = c, store = idempotency.memory(core.monotonic), now = core.time,
        sleep = core.sleep, scope = "test" }
      local before = stats()
      local found = assert(keys:scan("pages", { [key] = 3600 }))
      assert.are.equal(keyed.execution, found[key].name)
      assert.are.equal(3, calls(before, "ListExecutions")) -- the 6th of 6, two a page
      core.sleep(1.1)
      for _ = 1, 2 do assert(c:run_job("pages")) end
      before = stats()
      found = assert(keys:scan("pages", { [key] = 1, other = 1 }))
      assert.is_nil(found[key])
      assert.are.equal(2, calls(before, "ListExecutions")) -- page 2 reaches the first one older than 1 s
    end)
    idempotency.PAGE_SIZE = page_size
    assert(ok, err)
  end)

  it("deduplicates run_jobs' keyed entries: against earlier runs, within the list, after a lost answer", function()
    local c = h.client(emu.host)
    local k = "batch-" .. core.time()
    local earlier = assert(c:run_job("keyed", { idempotency_key = k .. "-b" }))
    local n0 = #executions("keyed")
    local before = stats()
    local results, failed = c:run_jobs({
      { job = "keyed", idempotency_key = k .. "-a" },
      { job = "keyed", idempotency_key = k .. "-a" },
      { job = "keyed", idempotency_key = k .. "-b" },
      { job = "keyed" },
      { job = "nosuch", idempotency_key = k .. "-c" },
    }, { in_flight = 4 })
    assert.are.equal(1, failed)
    assert.is_nil(results[1].deduplicated)
    assert.are.same({ execution = results[1].execution, deduplicated = true }, results[2])
    assert.are.same({ execution = earlier.execution, deduplicated = true }, results[3])
    assert.is_truthy(results[4].execution)
    assert.are.equal("NOT_FOUND", results[5].code)       -- the look-up's: an unknown job has no executions
    assert.is_true(cloudrun.is_error(results[5]))
    assert.are.equal(2, calls(before, "RunJob"))         -- a, the unkeyed one
    assert.are.equal(2, calls(before, "ListExecutions")) -- one per job (keyed, nosuch); b was remembered
    assert.are.equal(n0 + 2, #executions("keyed"))
    -- the answer of one entry lost: that entry is looked for again, found, not sent again
    n0 = #executions("keyed")
    h.control(emu.host, "POST", "faults", { method = "RunJob", fault = "reset_after_effect" })
    before = stats()
    results, failed = c:run_jobs({ { job = "keyed", idempotency_key = k .. "-d" },
      { job = "keyed", idempotency_key = k .. "-e" } }, { in_flight = 1 })
    assert.are.equal(0, failed)
    assert.is_true(results[1].recovered)
    assert.is_nil(results[2].deduplicated)
    assert.are.equal(2, calls(before, "RunJob"))
    assert.are.equal(2, calls(before, "ListExecutions"))
    assert.are.equal(n0 + 2, #executions("keyed"))
  end)
end)

if harness.available() then
  describe("inside nginx, two workers and a lua_shared_dict", function()
    local dir, emu, nginx

    local LOCATIONS = [[
    location = /run {
      content_by_lua_block {
        local c = require("cloudrun").client{ project = "test-project", region = "us-central1",
          endpoint = "http://{EMU}", credentials = false, shared_dict = "cloudrun",
          rate = { run_per_minute = 120 } }
        local op, err = c:run_job(ngx.var.arg_job or "hello")
        ngx.say(op and op.execution or ("error " .. tostring(err)), " ", ngx.worker.pid())
      }
    }
    location = /get {
      content_by_lua_block {
        local c = require("cloudrun").client{ project = "test-project", region = "us-central1",
          endpoint = "http://{EMU}", credentials = false, shared_dict = "cloudrun", retry = { attempts = 1 } }
        local t0 = ngx.now()
        local job, err = c:get_job("hello")
        ngx.update_time()
        ngx.say(job and "ok" or err.code, " ", ngx.worker.pid(), " ", ("%.2f"):format(ngx.now() - t0))
      }
    }
    location = /keyed {
      content_by_lua_block {
        local c = require("cloudrun").client{ project = "test-project", region = "us-central1",
          endpoint = "http://{EMU}", credentials = false, shared_dict = "cloudrun" }
        local r, err = c:run_job("hello", { idempotency_key = ngx.var.arg_key })
        ngx.say(r and r.execution or ("error " .. tostring(err)), " ", ngx.worker.pid(),
          r and r.deduplicated and " deduplicated" or "")
      }
    }
]]

    local function stats() return h.control(emu.host, "GET", "stats").calls end

    setup(function()
      dir = h.tmpdir()
      os.execute("chmod 755 " .. h.sh_quote(dir))
      emu = h.emulator{ jobs = { h.sh_job("hello", "exit 0"), h.sh_job("budget", "exit 0") } }
      nginx = harness.start(dir, (LOCATIONS:gsub("{EMU}", emu.host)),
        { workers = 2, http = "  lua_shared_dict cloudrun 1m;" })
    end)

    teardown(function()
      if nginx then nginx.stop() end
      if emu then emu.stop() end
      if dir then os.execute("rm -rf " .. h.sh_quote(dir)) end
    end)

    local function parallel(path, n)
      local urls = {}
      for i = 1, n do urls[i] = h.sh_quote(("http://127.0.0.1:%d%s"):format(nginx.port, path)) end
      local out, rc = h.run("curl -s -Z --parallel-immediate --parallel-max " .. n .. " -m 60 " .. table.concat(urls, " ")
        .. " 2>/dev/null")
      assert(rc == 0, out)
      local pids, workers = {}, 0
      for pid in out:gmatch("%S+ (%d+)[^\n]*\n") do -- each line: what it says, then the worker's pid
        if not pids[pid] then workers = workers + 1 end
        pids[pid] = true
      end
      return out, workers
    end

    it("shares one budget between the workers", function()
      local out, workers = parallel("/run?job=budget", 8)
      local list = assert(h.client(emu.host):list_executions("budget", { page_size = 100 })).executions
      assert.are.equal(8, #list, out)
      assert.are.equal(2, workers, out)
      local least = gaps(list)
      assert.is_true(least >= 0.5 * 0.8, ("RunJobs %.3f s apart across the workers:\n%s"):format(least, out))
      print(("\n  # 8 RunJobs at once through 2 workers at run_per_minute = 120: %.3f s apart at least"):format(least))
    end)

    it("holds every worker's calls after a 429 one of them got", function()
      h.control(emu.host, "POST", "faults", { method = "GetJob", fault = "resource_exhausted", retry_after = 1.5 })
      local first = harness.get(nginx.port, "/get")
      assert.matches("^RESOURCE_EXHAUSTED ", first)
      local out, workers = parallel("/get", 8)
      local n = 0
      for code, _, took in out:gmatch("(%S+) (%d+) ([%d.]+)") do
        assert.are.equal("ok", code, out)
        assert.is_true(tonumber(took) >= 1.0, "a call went through the pause: " .. out)
        n = n + 1
      end
      assert.are.equal(8, n, out)
      assert.are.equal(2, workers, out)
    end)

    it("gives one execution for concurrent calls with the same key, whichever worker they reach", function()
      h.control(emu.host, "DELETE", "stats")
      h.control(emu.host, "POST", "faults", { method = "RunJob", fault = "delay", delay_ms = 800 })
      local out, workers = parallel("/keyed?key=double-" .. os.time(), 8)
      assert.are.equal(2, workers, out)
      local names, deduplicated = {}, 0
      for name, _, dedup in out:gmatch("(%S+) (%d+)( ?%a*)\n") do
        assert.matches("/executions/hello%-", name, nil, false)
        names[name] = true
        if dedup ~= "" then deduplicated = deduplicated + 1 end
      end
      local n = 0
      for _ in pairs(names) do n = n + 1 end
      assert.are.equal(1, n, out)
      assert.are.equal(7, deduplicated, out)
      assert.are.equal(1, stats().RunJob, out)
      print("\n  # 8 requests with one key at once, through 2 workers:\n" .. out:gsub("[^\n]+", "  #   %0"))
    end)

    it("leaves no Lua error in nginx's log", function()
      local log = nginx.log()
      assert.is_nil(log:find("[error]", 1, true), log)
    end)
  end)
end
