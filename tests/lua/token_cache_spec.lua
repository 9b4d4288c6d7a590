-- The per-user access-token file of one-shot processes, as users meet it:
-- `cloudrun jobs execute --async` and `cloudrun-lua` scripts run as real
-- processes against the emulator (reached through
-- CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN, so credentials are sent) with a
-- service-account key whose token_uri is cr-fake-google, which counts every
-- token request. The suite turns the cache off (CLOUDRUN_TOKEN_CACHE=0); each
-- process here turns it on, in a gcloud configuration of the test's own.
local cloudrun = require("cloudrun")
local h = require("helpers")

local FAKE = assert(os.getenv("CR_FAKE_GOOGLE"), "CR_FAKE_GOOGLE must name the cr-fake-google binary")
local CLI = h.sh_quote(h.bin .. "/cloudrun")
local LUA = h.sh_quote(h.bin .. "/cloudrun-lua")

describe("the access-token file of one-shot processes", function()
  local dir, emu, fake, key_path, config

  local function start_fake()
    local s = h.spawn(("%s --port 0 --public-key %s"):format(h.sh_quote(FAKE), h.sh_quote(dir .. "/pub.pem")),
      "^fake%-google listening on 127%.0%.0%.1:(%d+)$")
    return { port = s.match, stop = function() h.stop(s.pid, s.pipe) end }
  end

  local function token_requests()
    return h.control_url("http://127.0.0.1:" .. fake.port .. "/stats").token_requests
  end

  -- `cmd` (shell words) in a one-shot's environment: stdout and stderr, and the exit code
  local function one_shot(cmd)
    return h.run(("env -u CLOUD_RUN_EMULATOR_HOST -u GCE_METADATA_HOST CLOUDRUN_TOKEN_CACHE=1 CLOUDSDK_CONFIG=%s "
      .. "GOOGLE_APPLICATION_CREDENTIALS=%s CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN=http://%s/ %s 2>&1")
      :format(h.sh_quote(config), h.sh_quote(key_path), emu.host, cmd))
  end

  local function execute()
    return one_shot(CLI .. " jobs execute hello --async --project test-project --region us-central1")
  end

  local function cached()
    local text = h.read(config .. "/cloudrun/access_tokens.json")
    return text and cloudrun.json.decode(text)
  end

  local function holds(token)
    local file = cached()
    for _, e in pairs(file and file.tokens or {}) do
      if e.access_token == token then return true end
    end
    return false
  end

  setup(function()
    dir = h.tmpdir()
    local out, rc = h.run(("cd %s && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem 2>&1 && "
      .. "openssl pkey -in key.pem -pubout -out pub.pem 2>&1"):format(h.sh_quote(dir)))
    assert(rc == 0, out)
    emu = h.emulator{ jobs = { h.sh_job("hello", "exit 0") } }
  end)

  teardown(function()
    if emu then emu.stop() end
    os.execute("rm -rf " .. h.sh_quote(dir))
  end)

  local n = 0
  before_each(function()
    n = n + 1
    fake = start_fake()
    config = dir .. "/gcloud-" .. n
    key_path = dir .. "/sa-" .. n .. ".json"
    h.write(key_path, cloudrun.json.encode({
      type = "service_account", project_id = "test-project", private_key_id = "kid-1",
      private_key = assert(h.read(dir .. "/key.pem")), client_email = "runner@test-project.iam.gserviceaccount.com",
      client_id = "123", token_uri = "http://127.0.0.1:" .. fake.port .. "/token",
    }))
    h.control(emu.host, "DELETE", "faults")
    h.control(emu.host, "DELETE", "stats")
  end)

  after_each(function()
    if fake then fake.stop() end
    fake = nil
  end)

  it("lets a second `cloudrun jobs execute --async` send no token request", function()
    local out, rc = execute()
    assert.are.equal(0, rc, out)
    out, rc = execute()
    assert.are.equal(0, rc, out)
    assert.are.equal(1, token_requests())
    assert.are.equal(2, h.control(emu.host, "GET", "stats").calls.RunJob)
    assert.is_true(holds("ya29.fake-1"))
  end)

  it("serves cloudrun-lua scripts on both libcurl drivers (run_job, and run_jobs on the multi driver)", function()
    local script = ([[
      local cloudrun = require("cloudrun")
      local client = assert(cloudrun.client{ project = "test-project", region = "us-central1",
                                             credentials = %q })
      assert(client:run_job("hello"))
      local results, failed = client:run_jobs({ { job = "hello" }, { job = "hello" } })
      assert(failed == 0, tostring(results[1]))
    ]]):format(key_path)
    for _ = 1, 2 do
      local out, rc = one_shot(LUA .. " -e " .. h.sh_quote(script))
      assert.are.equal(0, rc, out)
    end
    assert.are.equal(1, token_requests())
    assert.are.equal(6, h.control(emu.host, "GET", "stats").calls.RunJob)
  end)

  it("drops a token the API refuses (401) from the file, and keeps the one fetched after it", function()
    local out, rc = execute()
    assert.are.equal(0, rc, out)
    assert.is_true(holds("ya29.fake-1"))

    h.control(emu.host, "POST", "faults", { method = "RunJob", fault = "unauthenticated" })
    out, rc = execute()
    assert.are.equal(0, rc, out) -- refused, refreshed once, sent once more
    assert.are.equal(2, token_requests())
    assert.is_false(holds("ya29.fake-1"))
    assert.is_true(holds("ya29.fake-2"))

    -- refused again, and no token endpoint to ask: the call fails, and the refused token is gone
    h.control(emu.host, "POST", "faults", { method = "RunJob", fault = "unauthenticated" })
    fake.stop()
    fake = nil
    out, rc = execute()
    assert.are.equal(3, rc, out)
    assert.is_nil(out:find("ya29.", 1, true), out) -- the file holds tokens; no message shows one
    assert.is_false(holds("ya29.fake-2"))
    assert.are.same({}, cached().tokens)
  end)

  it("is neither read nor written with CLOUDRUN_TOKEN_CACHE=0", function()
    local out, rc = execute()
    assert.are.equal(0, rc, out)
    for _ = 1, 2 do
      out, rc = one_shot("env CLOUDRUN_TOKEN_CACHE=0 " .. CLI
        .. " jobs execute hello --async --project test-project --region us-central1")
      assert.are.equal(0, rc, out)
    end
    assert.are.equal(3, token_requests())
    assert.is_true(holds("ya29.fake-1"))
    assert.is_false(holds("ya29.fake-2") or holds("ya29.fake-3"))
  end)
end)
