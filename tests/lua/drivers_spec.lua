-- The drivers agree, by test: one table of cases (driver_cases.lua), each run
-- through every driver that runs its form, with the same expected outcome:
--   blocking         client:<method>(...) here (libcurl, one machine on this thread)
--   multi            client:run_jobs{...} here (libcurl's multi interface)
--   nginx            client:<method>(...) inside a real nginx worker (cosockets)
--   nginx run_jobs   client:run_jobs{...} there (light threads)
-- An outcome is the result (the same table everywhere: deep-equal with the
-- same `#`, and in one Lua state the same `pairs` order as libcurl's), or the
-- err's code, status and retryable, or a raised error naming the option —
-- and what the servers saw: calls per RPC, executions started, token requests.
-- The nginx drivers run where nginx_spec.lua runs (the LuaJIT build, with
-- CR_NGINX), the other two in every Lua's build.
local cloudrun = require("cloudrun")
local core = require("cloudrun.core")
local h = require("helpers")
local cases = require("driver_cases")
local harness = require("nginx_harness")
local idempotency = require("cloudrun.idempotency")

local FAKE = assert(os.getenv("CR_FAKE_GOOGLE"), "CR_FAKE_GOOGLE: the cr-fake-google binary")
local HOSTILE = assert(os.getenv("CR_HOSTILE"), "CR_HOSTILE: the cr-hostile binary")

local DRIVERS = {
  { name = "blocking", via = "call" },
  { name = "multi", via = "run_jobs" },
}
if harness.available() then
  DRIVERS[#DRIVERS + 1] = { name = "nginx", via = "call", nginx = true }
  DRIVERS[#DRIVERS + 1] = { name = "nginx run_jobs", via = "run_jobs", nginx = true }
end

-- A case run by name inside nginx: ?case=&via=&ctx=<JSON>[&reference=1] -> its outcome as JSON
-- (with reference: {driver = ..., libcurl = ...}, the same case through the core's libcurl
-- driver in the same Lua state).
local LOCATIONS = [[
    location = /case {
      content_by_lua_block {
        local cloudrun = require("cloudrun")
        local cases = require("driver_cases")
        local a = ngx.req.get_uri_args()
        local ok, out = pcall(function()
          local ctx = assert(cloudrun.json.decode(a.ctx))
          local c = cases.client(cloudrun, assert(cases.by_name[a.case], a.case), ctx)
          local o = cases.run(cloudrun, a.case, a.via, c)
          if a.reference then o = { driver = o, libcurl = cases.run_libcurl(cloudrun, a.case, a.via, ctx) } end
          return o
        end)
        if not ok then ngx.status = 500 ngx.say("the handler failed: ", tostring(out)) return end
        ngx.header["Content-Type"] = "application/json"
        ngx.say(cloudrun.json.encode(out))
      }
    }
]]

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

-- The fake token endpoints, by what they answer; the failing ones hand out
-- (or quote) a token with SECRET in it.
local FAKES = { "ok", "invalid_grant", "500", "garbage", "long" }

describe("the drivers agree", function()
  local dir, emu, hostile, nginx, counter = nil, nil, nil, nil, 0
  local fakes = {}
  local spy -- a client of the spec's own, for counting executions

  setup(function()
    dir = h.tmpdir()
    local out, rc = h.run(("cd %s && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem 2>&1 && "
      .. "openssl pkey -in key.pem -pubout -out pub.pem 2>&1"):format(h.sh_quote(dir)))
    assert(rc == 0, out)
    for _, mode in ipairs(FAKES) do
      -- "long": tokens as long as Google's (a message is scrubbed of runs of 16 characters or more of a secret)
      local token = mode == "ok" and "" or mode == "long" and " --token ya29.a0-fetched-token-of-realistic-length-0123456789"
        or " --token ya29.SECRET-" .. mode
      local s = h.spawn(("%s --port 0 --public-key %s --mode %s%s"):format(h.sh_quote(FAKE),
        h.sh_quote(dir .. "/pub.pem"), mode == "long" and "ok" or mode, token),
        "^fake%-google listening on 127%.0%.0%.1:(%d+)$")
      fakes[mode] = { port = s.match, stop = function() h.stop(s.pid, s.pipe) end }
    end
    local s = h.spawn(h.sh_quote(HOSTILE) .. " --port 0", "^hostile listening on 127%.0%.0%.1:(%d+)$")
    hostile = { port = s.match, stop = function() h.stop(s.pid, s.pipe) end }
    emu = h.emulator{ jobs = { h.sh_job("hello", "exit 0"), h.sh_job("reader", "exit 0") } }
    spy = h.client(emu.host)
    if harness.available() then
      os.execute("mkdir -p " .. h.sh_quote(dir .. "/nginx"))
      nginx = harness.start(dir .. "/nginx", LOCATIONS)
    end
  end)

  teardown(function()
    if nginx then nginx.stop() end
    if emu then emu.stop() end
    if hostile then hostile.stop() end
    for _, f in pairs(fakes) do f.stop() end
    if dir then os.execute("rm -rf " .. h.sh_quote(dir)) end
  end)

  -- A service-account key whose token comes from fake `mode`, for one run:
  -- an account of its own, so that no run finds a token another one left.
  local function key_for(mode, quota)
    counter = counter + 1
    local path = ("%s/key-%d.json"):format(dir, counter)
    h.write(path, cloudrun.json.encode{
      type = "service_account", project_id = "key-project", private_key_id = "kid-1",
      private_key = assert(h.read(dir .. "/key.pem")), client_email = ("run-%d@key-project.iam.gserviceaccount.com"):format(counter),
      client_id = "1", token_uri = "http://127.0.0.1:" .. fakes[mode].port .. "/token",
      quota_project_id = quota,
    })
    return path
  end

  local function executions()
    local list = assert(spy:list_executions("hello", { page_size = 1000 }))
    return #(list.executions or {})
  end

  -- The smallest gap between the createTimes of the newest n executions of "hello".
  local function gaps(n)
    local list = assert(spy:list_executions("hello", { page_size = 1000 })).executions or {}
    local times = {}
    for i = 1, math.min(n, #list) do times[i] = idempotency.unix(list[i].createTime) end
    table.sort(times)
    local least = math.huge
    for i = 2, #times do least = math.min(least, times[i] - times[i - 1]) end
    return least
  end

  local function add_fault(f)
    local body = { count = 1 }
    for k, v in pairs(f) do body[k] = v end
    local answer = h.control(emu.host, "POST", "faults", body)
    if answer.error then
      error(("the emulator cannot inject the fault %s: %s"):format(cloudrun.json.encode(f), tostring(answer.error.message)))
    end
  end

  local function in_nginx(name, via, ctx, reference)
    local path = ("/case?case=%s&via=%s&ctx=%s%s"):format(urlencode(name), via, urlencode(cloudrun.json.encode(ctx)),
      reference and "&reference=1" or "")
    local out, rc = harness.get(nginx.port, path)
    local body, status = out:match("^(.*)\n(%d+)$")
    assert(rc == 0 and status == "200", "nginx: " .. out .. "\n" .. nginx.log())
    return assert(cloudrun.json.decode(body))
  end

  --- Runs `case` on `driver`: its outcome, and what the servers saw.
  local function run(case, driver)
    local started_before = executions()
    h.control(emu.host, "DELETE", "faults")
    h.control(emu.host, "DELETE", "stats")
    for _, f in ipairs(case.faults or {}) do add_fault(f) end
    local ctx = { endpoint = "http://" .. emu.host }
    if case.server == "hostile" then ctx.endpoint = "http://127.0.0.1:" .. hostile.port end
    local fake_url = case.fake and "http://127.0.0.1:" .. fakes[case.fake].port .. "/stats"
    local hostile_url = "http://127.0.0.1:" .. hostile.port .. "/stats"
    if case.fake then ctx.credentials = key_for(case.fake, case.quota) end
    local tokens_before = fake_url and h.control_url(fake_url).token_requests
    local hostile_before = h.control_url(hostile_url).requests

    local outcome
    local t0 = core.monotonic()
    if driver.nginx then
      outcome = in_nginx(case.name, driver.via, ctx)
    else
      outcome = cases.run(cloudrun, case.name, driver.via, cases.client(cloudrun, case, ctx))
    end
    local took = core.monotonic() - t0

    local seen = {}
    if case.server == "hostile" then
      -- less the /stats request that read hostile_before (the server counts it too)
      seen.calls = h.control_url(hostile_url).requests - hostile_before - 1
    else
      seen.calls = {}
      for method, n in pairs(h.control(emu.host, "GET", "stats").calls) do
        if n > 0 then seen.calls[method] = n end
      end
    end
    h.control(emu.host, "DELETE", "faults")
    if fake_url then seen.tokens = h.control_url(fake_url).token_requests - tokens_before end
    seen.started = executions() - started_before
    return outcome, seen, took, case.spaced and gaps(seen.started)
  end

  -- The one result of a single-call case's run_jobs form, checked as a list of one.
  local function unwrap(case, driver, outcome)
    if driver.via ~= "run_jobs" or case.list or outcome.raised then return outcome end
    assert.are.equal(1, outcome.n, driver.name)
    assert.are_not.equal("hole", outcome.entries[1], driver.name .. ": no result for the one entry")
    assert.are.equal(case.expect.ok and 0 or 1, outcome.failed, driver.name .. ": failed")
    return outcome.entries[1]
  end

  local function check(case, driver, outcome, seen)
    local what = case.name .. " on the " .. driver.name .. " driver: " .. cloudrun.json.encode(outcome)
      .. " (the servers saw " .. cloudrun.json.encode(seen) .. ")"
    local e = case.expect
    if e.raises then
      assert.is_string(outcome.raised, what)
      local texts = { (table.unpack or unpack)(e.raises) }
      if driver.via == "run_jobs" and not case.list then texts[#texts + 1] = "entry 1" end
      for _, text in ipairs(texts) do
        assert.is_truthy(outcome.raised:find(text, 1, true), what .. ": the message should name " .. text)
      end
    elseif e.results then
      assert.is_nil(outcome.raised, what)
      assert.are.equal(#e.results, outcome.n, what)
      for i, want in ipairs(e.results) do
        local r = outcome.entries[i]
        assert.are_not.equal("hole", r, what .. ": entry " .. i .. " has no result")
        if want == "ok" then
          assert.is_true(r.ok, what .. ": entry " .. i)
        else
          assert.are.equal(want, r.code, what .. ": entry " .. i)
          assert.is_true(r.is_error, what .. ": entry " .. i .. " is an err table")
        end
      end
      assert.are.equal(e.failed, outcome.failed, what .. ": failed")
    elseif e.ok then
      assert.is_true(outcome.ok, what)
    else
      assert.is_nil(outcome.raised, what)
      assert.is_nil(outcome.ok, what)
      assert.is_true(outcome.is_error, what)
      local got = { code = outcome.code, status = outcome.status, retryable = outcome.retryable, sent = outcome.sent }
      assert.are.same(e, got, what)
      if case.secret then assert.is_false(outcome.leaked, what .. ": the message holds " .. case.secret) end
      for _, text in ipairs(case.message_has or {}) do
        assert.is_truthy(outcome.message and outcome.message:find(text, 1, true), what .. ": the message should hold "
          .. text)
      end
    end
    for _, text in ipairs(case.value_has or {}) do
      assert.is_truthy(outcome.value and outcome.value:find(text, 1, true), what .. ": the result should hold " .. text)
    end
    for _, text in ipairs(case.value_lacks or {}) do
      assert.is_falsy(outcome.value and outcome.value:find(text, 1, true), what .. ": the result should not hold "
        .. text)
    end
    if type(case.calls) == "number" then
      assert.are.equal(case.calls, seen.calls, what .. ": requests the server saw")
    else
      assert.are.same(case.calls, seen.calls, what .. ": calls the server saw")
    end
    if case.started then assert.are.equal(case.started, seen.started, what .. ": executions started") end
    if case.tokens then assert.are.equal(case.tokens, seen.tokens, what .. ": token requests") end
  end

  -- What must be the same on every driver: the outcome without the message
  -- (each driver words its transport failures its own way) or the pairs order.
  local function without_wording(outcome)
    if type(outcome) ~= "table" then return outcome end
    local s = {}
    for k, v in pairs(outcome) do
      if k ~= "message" and k ~= "order" then s[k] = without_wording(v) end
    end
    if s.raised then s.raised = true end
    return s
  end

  local function summary(outcome, seen)
    local s = without_wording(outcome)
    s.seen = seen
    return s
  end

  for _, case in ipairs(cases.cases) do
    describe(case.name, function()
      local first -- {driver=, summary=, order=}: the first driver's run, the others are held to it
      for _, driver in ipairs(DRIVERS) do
        local applies = false
        for _, v in ipairs(case.via) do applies = applies or v == driver.via end
        if applies then
          it("on the " .. driver.name .. " driver", function()
            local outcome, seen, took, gap = run(case, driver)
            local one = unwrap(case, driver, outcome)
            check(case, driver, one, seen)
            if case.at_least then
              assert.is_true(took >= case.at_least, ("%s on the %s driver took %.2f s (at least %g)"):format(
                case.name, driver.name, took, case.at_least))
            end
            if case.spaced then
              -- spaced as they leave the client; the server's createTimes also hold each
              -- connection's set-up (a few ms, more on a loaded machine)
              assert.is_true(gap >= case.spaced * 0.8, ("%s on the %s driver: executions %.3f s apart (%g wanted)")
                :format(case.name, driver.name, gap, case.spaced))
            end
            if case.within then
              assert.is_true(took <= case.within, ("%s on the %s driver took %.2f s (at most %g)"):format(
                case.name, driver.name, took, case.within))
            end
            local s = summary(one, seen)
            if not first then
              first = { driver = driver, summary = s, order = one.order }
              return
            end
            assert.are.same(first.summary, s, driver.name .. " disagrees with " .. first.driver.name)
            if one.ok and not driver.nginx and not first.driver.nginx and not case.lua_made then
              -- the same Lua state: the same pairs order as well (a table the C binding made from an
              -- answer; one the Lua layer made, a key's, may be filled in another order)
              assert.are.equal(first.order, one.order, "pairs order: " .. driver.name .. " vs " .. first.driver.name)
            end
          end)
        end
      end
      if case.expect.ok and not case.fake and not case.lua_made and harness.available() then
        for _, via in ipairs(case.via) do
          it("inside nginx (" .. via .. ") gives the table libcurl gives in the same Lua state", function()
            h.control(emu.host, "DELETE", "faults")
            local both = in_nginx(case.name, via, { endpoint = "http://" .. emu.host }, true)
            local driver = unwrap(case, { name = "nginx", via = via }, both.driver)
            assert.is_true(driver.ok, cloudrun.json.encode(both))
            assert.is_true(both.libcurl.ok, cloudrun.json.encode(both))
            assert.are.equal(both.libcurl.value, driver.value)
            assert.are.equal(both.libcurl.order, driver.order)
          end)
        end
      end
    end)
  end

  if harness.available() then
    it("leaves no Lua error in nginx's log", function()
      local log = nginx.log()
      assert.is_nil(log:find("[error]", 1, true), log)
    end)
  end
end)
