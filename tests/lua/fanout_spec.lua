-- client:run_jobs against the emulator: many triggers with a bounded number
-- in flight on the multi driver, results in order, one failure never hiding
-- the others, and a change never sent twice.
local cloudrun = require("cloudrun")
local h = require("helpers")

describe("client:run_jobs", function()
  local emu, out, client

  local function executions(job)
    local list = assert(client:list_executions(job, { page_size = 1000 }))
    return list.executions or {}
  end

  setup(function()
    out = h.tmpdir()
    emu = h.emulator{
      jobs = { h.sh_job("fan", 'echo "$1" > "$OUT/$1"', { taskCount = 1 }) },
      env = { OUT = out },
    }
    client = h.client(emu.host)
  end)

  teardown(function()
    if emu then emu.stop() end
    os.execute("rm -rf " .. h.sh_quote(out))
  end)

  it("starts every execution with its own overrides and returns the results in order", function()
    local list = {}
    for i = 1, 40 do list[i] = { job = "fan", args = { "run-" .. i } } end
    list[7] = { job = "nosuch", args = { "never" } }
    list[13] = { job = "Not/A/Job" }
    local results, failed = client:run_jobs(list, { in_flight = 8 })
    assert.are.equal(40, #results)
    assert.are.equal(2, failed)
    for i, r in ipairs(results) do
      if i == 7 then
        assert.is_true(cloudrun.is_error(r))
        assert.are.equal("NOT_FOUND", r.code)
      elseif i == 13 then
        assert.is_true(cloudrun.is_error(r))
        assert.are.equal("INVALID_ARGUMENT", r.code)
      else
        assert.is_false(cloudrun.is_error(r), tostring(r))
        assert.matches("/jobs/fan/executions/fan%-", r.execution)
      end
    end
    -- each execution really ran with its args: wait for them, then read what they wrote
    for i, r in ipairs(results) do
      if not cloudrun.is_error(r) then
        local e = assert(client:wait(r, { timeout = 30 }))
        assert.are.equal(1, e.succeededCount, r.execution)
        assert.are.equal("run-" .. i .. "\n", h.read(out .. "/run-" .. i))
      end
    end
    assert.are.equal(38, #executions("fan"))
  end)

  it("reports a 503 on one trigger without retrying it, and the others still start", function()
    local before = #executions("fan")
    h.control(emu.host, "POST", "faults", { method = "RunJob", fault = "unavailable", count = 1 })
    local list = {}
    for i = 1, 5 do list[i] = { job = "fan", args = { "after-503-" .. i } } end
    local results, failed = client:run_jobs(list, { in_flight = 1, retry = { attempts = 5, initial = 0.01 } })
    assert.are.equal(1, failed)
    assert.are.equal("UNAVAILABLE", results[1].code)
    for i = 2, 5 do assert.is_false(cloudrun.is_error(results[i])) end
    assert.are.equal(before + 4, #executions("fan"))
  end)

  it("never sends a trigger twice when the connection dies after it arrived", function()
    local before = #executions("fan")
    h.control(emu.host, "POST", "faults", { method = "RunJob", fault = "reset_after_effect", count = 1 })
    local results, failed = client:run_jobs({ { job = "fan", args = { "reset" } } }, { retry = { attempts = 5 } })
    assert.are.equal(1, failed)
    assert.are.equal("UNAVAILABLE", results[1].code)
    assert.are.equal(before + 1, #executions("fan")) -- it did start, once
  end)

  it("retries a trigger the server refused with 429 after its Retry-After", function()
    h.control(emu.host, "POST", "faults",
      { method = "RunJob", fault = "resource_exhausted", count = 2, retry_after = 0.05 })
    local results, failed = client:run_jobs({ { job = "fan", args = { "x" } }, { job = "fan", args = { "y" } } },
      { in_flight = 2, retry = { attempts = 3 } })
    assert.are.equal(0, failed)
    assert.is_string(results[1].execution)
    assert.is_string(results[2].execution)
  end)

  it("raises on a malformed list", function()
    assert.has_error(function() client:run_jobs("fan") end)
    assert.has_error(function() client:run_jobs({ "fan" }) end)
    assert.has_error(function() client:run_jobs({ { args = { "x" } } }) end)
    assert.has_error(function() client:run_jobs({ { job = "fan", colour = "red" } }) end)
    assert.has_error(function() client:run_jobs({}, { in_flight = -1 }) end)
    local results, failed = client:run_jobs({})
    assert.are.same({}, results)
    assert.are.equal(0, failed)
  end)
end)
