-- The retry rules against a real server with injected faults: the number of
-- attempts (the emulator counts them) and the time waited. Reads retry
-- transient failures; RunJob never retries once its request may have taken
-- effect, so a reset can never start a second execution.
local core = require("cloudrun.core")
local h = require("helpers")

local FAST = { initial = 0.01, max = 0.05 }

describe("retries", function()
  local emu, client

  local function fault(method, kind, extra)
    local body = { method = method, fault = kind, count = 1 }
    for k, v in pairs(extra or {}) do body[k] = v end
    h.control(emu.host, "POST", "faults", body)
  end

  local function calls(method)
    return h.control(emu.host, "GET", "stats").calls[method] or 0
  end

  local function executions()
    local list = assert(client:list_executions("r"))
    return #(list.executions or {})
  end

  before_each(function()
    h.control(emu.host, "DELETE", "faults")
    h.control(emu.host, "DELETE", "stats")
  end)

  setup(function()
    emu = h.emulator{ jobs = { h.sh_job("r", "exit 0") } }
    client = h.client(emu.host, { retry = FAST })
  end)

  teardown(function()
    if emu then emu.stop() end
  end)

  it("retries a read through 503s and 500s", function()
    fault("GetJob", "unavailable", { count = 2 })
    fault("GetJob", "internal")
    assert(client:get_job("r"))
    assert.are.equal(4, calls("GetJob"))
  end)

  it("retries a read whose connection was dropped", function()
    fault("ListJobs", "drop", { count = 2 })
    assert(client:list_jobs())
    assert.are.equal(3, calls("ListJobs"))
  end)

  it("retries a read that timed out", function()
    fault("GetJob", "delay", { delay_ms = 600 })
    assert(client:get_job("r", { timeout = 0.2 }))
    assert.are.equal(2, calls("GetJob")) -- the slow answer was given up on, the retry answered
  end)

  it("does not retry RunJob after a 503: it may have started", function()
    fault("RunJob", "unavailable")
    local op, err = client:run_job("r")
    assert.is_nil(op)
    assert.are.equal("UNAVAILABLE", err.code)
    assert.are.equal(503, err.status)
    assert.are.equal(1, calls("RunJob"))
  end)

  it("does not retry RunJob after a 500", function()
    fault("RunJob", "internal")
    local op, err = client:run_job("r")
    assert.is_nil(op)
    assert.are.equal("INTERNAL", err.code)
    assert.are.equal(1, calls("RunJob"))
  end)

  it("never starts a second execution when the connection resets after RunJob took effect", function()
    local before = executions()
    fault("RunJob", "reset_after_effect")
    local op, err = client:run_job("r")
    assert.is_nil(op)
    assert.are.equal("UNAVAILABLE", err.code)
    assert.are.equal(1, calls("RunJob"))
    assert.are.equal(before + 1, executions()) -- exactly the one that the lost answer started
  end)

  it("does not retry RunJob whose answer timed out", function()
    local before = executions()
    fault("RunJob", "delay", { delay_ms = 800 })
    local impatient = h.client(emu.host, { timeout = 0.3, retry = FAST })
    local op, err = impatient:run_job("r")
    assert.is_nil(op)
    assert.are.equal("DEADLINE_EXCEEDED", err.code)
    assert.are.equal(1, calls("RunJob"))
    core.sleep(0.7)
    assert.are.equal(before + 1, executions()) -- it did start, once
  end)

  it("retries RunJob after a 429, waiting for Retry-After", function()
    fault("RunJob", "resource_exhausted", { retry_after = 0.4 })
    local t0 = core.monotonic()
    local op = assert(client:run_job("r"))
    local waited = core.monotonic() - t0
    assert.is_string(op.execution)
    assert.are.equal(2, calls("RunJob"))
    assert.is_true(waited >= 0.4, "waited only " .. waited)
    assert.is_true(waited < 2)
  end)

  it("honours google.rpc.RetryInfo", function()
    fault("GetJob", "resource_exhausted", { retry_info = "0.3s" })
    local t0 = core.monotonic()
    assert(client:get_job("r"))
    assert.is_true(core.monotonic() - t0 >= 0.3)
    assert.are.equal(2, calls("GetJob"))
  end)

  it("gives up after the attempts run out, saying how many", function()
    fault("GetJob", "unavailable", { count = 10 })
    local job, err = client:get_job("r", { retry = { attempts = 3, initial = 0.01 } })
    assert.is_nil(job)
    assert.are.equal("UNAVAILABLE", err.code)
    assert.matches("(after 3 attempts)", err.message, 1, true)
    assert.are.equal(3, calls("GetJob"))
  end)

  it("gives up at the deadline, however many attempts are left", function()
    fault("GetJob", "unavailable", { count = 100, retry_after = 0.2 })
    local t0 = core.monotonic()
    local job, err = client:get_job("r", { retry = { attempts = 50, initial = 0.01, deadline = 0.7 } })
    local took = core.monotonic() - t0
    assert.is_nil(job)
    assert.are.equal("UNAVAILABLE", err.code)
    assert.is_true(took >= 0.4 and took < 2.0, "took " .. took)
    assert.is_true(calls("GetJob") >= 3 and calls("GetJob") <= 5, "calls: " .. calls("GetJob"))
  end)

  it("does not retry with attempts = 1", function()
    fault("GetJob", "unavailable")
    local _, err = client:get_job("r", { retry = { attempts = 1 } })
    assert.are.equal("UNAVAILABLE", err.code)
    assert.are.equal(1, calls("GetJob"))
  end)

  it("keeps waiting for an execution through a burst of 503s", function()
    local op = assert(client:run_job("r"))
    fault("GetExecution", "unavailable", { count = 3 })
    local e = assert(client:wait(op, { timeout = 30 }))
    assert.are.equal(1, e.succeededCount)
  end)

  it("ends a wait at its own timeout even while every poll is failing", function()
    local op = assert(client:run_job("r"))
    fault("GetExecution", "unavailable", { count = 1000, retry_after = 0.2 })
    local slow = h.client(emu.host) -- default policy: 120 s per call, were it not for the wait's timeout
    local t0 = core.monotonic()
    local e, err = slow:wait(op, { timeout = 0.6 })
    local took = core.monotonic() - t0
    h.control(emu.host, "DELETE", "faults")
    assert.is_nil(e)
    assert.are.equal("DEADLINE_EXCEEDED", err.code)
    assert.is_true(took < 3, "took " .. took)
  end)

  it("does not retry what a retry cannot fix", function()
    local _, err = client:get_job("no-such-job")
    assert.are.equal("NOT_FOUND", err.code)
    assert.are.equal(1, calls("GetJob"))
  end)
end)
