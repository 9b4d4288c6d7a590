-- Credentials from Lua against cr-fake-google on loopback: a service-account
-- key exchanged for a token (the fake verifies the JWT's signature and
-- claims), the metadata server, the ADC chain through the CLI, one shared
-- token cache, and failures that never show a secret.
local cloudrun = require("cloudrun")
local h = require("helpers")

local FAKE = assert(os.getenv("CR_FAKE_GOOGLE"), "CR_FAKE_GOOGLE must name the cr-fake-google binary")

local function start_fake(dir, args)
  local s = h.spawn(("%s --port 0 --public-key %s %s"):format(h.sh_quote(FAKE), h.sh_quote(dir .. "/pub.pem"),
    args or ""), "^fake%-google listening on 127%.0%.0%.1:(%d+)$")
  return { pid = s.pid, port = s.match, stop = function() h.stop(s.pid, s.pipe) end }
end

local function key_file(dir, token_uri, extra)
  local pem = assert(h.read(dir .. "/key.pem"))
  local key = {
    type = "service_account", project_id = "key-project", private_key_id = "kid-1",
    private_key = pem, client_email = "runner@key-project.iam.gserviceaccount.com",
    client_id = "123", token_uri = token_uri,
  }
  for k, v in pairs(extra or {}) do key[k] = v end
  return key
end

describe("credentials", function()
  local dir, fake, key_path, pem_body

  setup(function()
    dir = h.tmpdir()
    local out, rc = h.run(("cd %s && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem 2>&1 && "
      .. "openssl pkey -in key.pem -pubout -out pub.pem 2>&1"):format(h.sh_quote(dir)))
    assert(rc == 0, out)
    fake = start_fake(dir)
    key_path = dir .. "/sa.json"
    h.write(key_path, cloudrun.json.encode(key_file(dir, "http://127.0.0.1:" .. fake.port .. "/token")))
    -- a line from the middle of the PEM body: it must never show up anywhere
    pem_body = h.read(dir .. "/key.pem"):match("\n([^\n]+)\n[^\n]+\n[^\n]+\n")
  end)

  teardown(function()
    if fake then fake.stop() end
    os.execute("rm -rf " .. h.sh_quote(dir))
  end)

  it("exchanges a service-account key for a token, and every holder shares it", function()
    local creds = assert(cloudrun.auth.from_file(key_path))
    local token, expires_at = assert(creds:token())
    assert.matches("^ya29%.fake%-%d+$", token)
    assert.is_true(math.abs(expires_at - (os.time() + 3600)) < 60)
    local info = creds:info()
    assert.are.equal("service_account", info.type)
    assert.are.equal("runner@key-project.iam.gserviceaccount.com", info.account)
    assert.are.equal("key-project", info.project)
    assert.matches("runner@key-project", tostring(creds), 1, true)
    assert.is_nil(tostring(creds):find(token, 1, true))

    -- a second object from the same file, and a decoded key table, reuse the cached token
    local again = assert(cloudrun.auth.from_file(key_path))
    assert.are.equal(token, (again:token()))
    local from_table = assert(cloudrun.auth.from_json(cloudrun.json.decode(h.read(key_path))))
    assert.are.equal(token, (from_table:token()))
  end)

  it("authorizes client calls with the key file, and takes the project from it", function()
    local emu = h.emulator{ jobs = { h.sh_job("ok", "exit 0") } }
    local client = assert(cloudrun.client{ region = "us-central1", endpoint = "http://" .. emu.host, credentials = key_path })
    local name = assert(client:job_name("ok"))
    emu.stop()
    assert.are.equal("projects/key-project/locations/us-central1/jobs/ok", name)
  end)

  it("gets a token from the metadata server", function()
    local creds = assert(cloudrun.auth.metadata("127.0.0.1:" .. fake.port))
    local token = assert(creds:token())
    assert.matches("^ya29%.fake%-%d+$", token)
    assert.are.equal("metadata", creds:info().type)
  end)

  it("prints a token with `cloudrun auth print-access-token` through ADC", function()
    local out, rc = h.run(("env -u CLOUD_RUN_EMULATOR_HOST GOOGLE_APPLICATION_CREDENTIALS=%s %s auth print-access-token 2>&1")
      :format(h.sh_quote(key_path), h.sh_quote(h.bin .. "/cloudrun")))
    assert.are.equal(0, rc, out)
    assert.matches("^ya29%.fake%-%d+\n$", out)
  end)

  it("names every place it looked when no credentials are found", function()
    local out, rc = h.run(("env -u GOOGLE_APPLICATION_CREDENTIALS HOME=/nonexistent CLOUDSDK_CONFIG=%s "
      .. "GCE_METADATA_HOST=127.0.0.1:1 %s auth print-access-token 2>&1"):format(
      h.sh_quote(dir .. "/no-gcloud"), h.sh_quote(h.bin .. "/cloudrun")))
    assert.are.equal(3, rc, out)
    assert.matches("GOOGLE_APPLICATION_CREDENTIALS", out, 1, true)
    assert.matches(dir .. "/no-gcloud/application_default_credentials.json", out, 1, true)
    assert.matches("127.0.0.1:1", out, 1, true)
  end)

  local function stats()
    return h.control_url("http://127.0.0.1:" .. fake.port .. "/stats")
  end

  it("uses every credentials file type", function()
    local base = "http://127.0.0.1:" .. fake.port
    local files = {
      authorized_user = { type = "authorized_user", client_id = "test-client", client_secret = "test-secret",
                          refresh_token = "test-refresh", token_uri = base .. "/token", quota_project_id = "billing" },
      impersonated_service_account = {
        type = "impersonated_service_account",
        service_account_impersonation_url = base .. "/v1/projects/-/serviceAccounts/target@p.iam.gserviceaccount.com:generateAccessToken",
        delegates = { "middle@p.iam.gserviceaccount.com" },
        source_credentials = key_file(dir, base .. "/token", { client_email = "source@key-project.iam.gserviceaccount.com" }),
      },
      external_account = {
        type = "external_account", audience = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x",
        subject_token_type = "urn:ietf:params:oauth:token-type:jwt", token_url = base .. "/sts",
        credential_source = { file = dir .. "/subject.txt" },
      },
    }
    h.write(dir .. "/subject.txt", "test-subject-token\n")
    for kind, content in pairs(files) do
      local path = dir .. "/" .. kind .. ".json"
      h.write(path, cloudrun.json.encode(content))
      local creds = assert(cloudrun.auth.from_file(path))
      local token, err = creds:token()
      assert.is_string(token, kind .. ": " .. tostring(err))
      local info = creds:info()
      assert.are.equal(kind, info.type)
      if kind == "impersonated_service_account" then
        assert.matches("^ya29%.impersonated", token)
        assert.are.equal("target@p.iam.gserviceaccount.com", info.account)
      end
      if kind == "authorized_user" then assert.are.equal("billing", info.quota_project) end
    end
    assert.are.same({ "middle@p.iam.gserviceaccount.com" }, stats().last_delegates)
  end)

  it("signs its own JWT as the bearer with self_signed_jwt, without asking the token endpoint", function()
    local before = stats().token_requests
    local creds = assert(cloudrun.auth.from_file(key_path, { self_signed_jwt = true }))
    local token = assert(creds:token())
    local header, claims = token:match("^([%w_-]+)%.([%w_-]+)%.[%w_-]+$")
    assert.is_string(header)
    assert.are.equal(before, stats().token_requests)
    -- a different object from the exchanging credential of the same file
    assert.are_not.equal(token, (assert(cloudrun.auth.from_file(key_path)):token()))
    assert.is_truthy(claims)
  end)

  it("shares one token among 64 coroutines using one client", function()
    local emu = h.emulator{ jobs = { h.sh_job("ok", "exit 0") } }
    local path = dir .. "/co.json"
    h.write(path, cloudrun.json.encode(key_file(dir, "http://127.0.0.1:" .. fake.port .. "/token",
      { client_email = "coroutines@key-project.iam.gserviceaccount.com" })))
    local client = assert(cloudrun.client{ project = "p", region = "r", endpoint = "http://" .. emu.host, credentials = path })
    local before = stats().token_requests
    local cos = {}
    for i = 1, 64 do
      cos[i] = coroutine.create(function()
        coroutine.yield()
        return client:list_jobs()
      end)
      coroutine.resume(cos[i])
    end
    for i = 1, 64 do
      local ok, jobs = coroutine.resume(cos[i])
      assert.is_true(ok)
      assert.is_table(jobs)
    end
    emu.stop()
    assert.are.equal(before + 1, stats().token_requests)
  end)

  it("finds the project and region on the metadata server", function()
    local out, rc = h.run(("env -u GOOGLE_CLOUD_PROJECT -u CLOUDSDK_CORE_PROJECT -u CLOUDSDK_RUN_REGION "
      .. "-u GOOGLE_APPLICATION_CREDENTIALS -u CLOUD_RUN_EMULATOR_HOST HOME=/nonexistent CLOUDSDK_CONFIG=/nonexistent "
      .. "GCE_METADATA_HOST=127.0.0.1:%s %s -e %s 2>&1"):format(fake.port, h.sh_quote(h.bin .. "/cloudrun-lua"),
      h.sh_quote("local c = assert(require('cloudrun').client{}); print(assert(c:job_name('j')))")))
    assert.are.equal(0, rc, out)
    assert.are.equal("projects/fake-project/locations/us-central1/jobs/j\n", out)
  end)

  it("describes the credentials in use with `cloudrun auth describe`, never the token", function()
    local out, rc = h.run(("env -u CLOUD_RUN_EMULATOR_HOST GOOGLE_APPLICATION_CREDENTIALS=%s %s auth describe 2>&1")
      :format(h.sh_quote(key_path), h.sh_quote(h.bin .. "/cloudrun")))
    assert.are.equal(0, rc, out)
    assert.matches("Type:%s+service_account", out)
    assert.matches("Source:%s+" .. key_path:gsub("%p", "%%%0"), out)
    assert.matches("Account:%s+runner@key%-project%.iam%.gserviceaccount%.com", out)
    assert.matches("Project:%s+key%-project", out)
    assert.matches("Expires:%s+%d%d%d%d%-", out)
    assert.is_nil(out:find("ya29", 1, true))
  end)

  it("`cloudrun auth describe` shows what it knows and exits 3 when the token fetch fails", function()
    local f = start_fake(dir, "--mode invalid_grant --token ya29.SECRET-describe")
    local path = dir .. "/describe-fails.json"
    h.write(path, cloudrun.json.encode(key_file(dir, "http://127.0.0.1:" .. f.port .. "/token",
      { client_email = "describe@key-project.iam.gserviceaccount.com" })))
    local errfile = dir .. "/describe.err"
    local out, rc = h.run(("env -u CLOUD_RUN_EMULATOR_HOST GOOGLE_APPLICATION_CREDENTIALS=%s %s auth describe 2>%s")
      :format(h.sh_quote(path), h.sh_quote(h.bin .. "/cloudrun"), h.sh_quote(errfile)))
    f.stop()
    local stderr = h.read(errfile)
    assert.are.equal(3, rc, out .. stderr)
    assert.matches("Type:%s+service_account", out)
    assert.matches("Source:%s+" .. path:gsub("%p", "%%%0"), out)
    assert.matches("Account:%s+describe@key%-project%.iam%.gserviceaccount%.com", out)
    assert.matches("Token:%s+unavailable", out)
    assert.matches("^ERROR: UNAUTHENTICATED", stderr)
    assert.matches("invalid_grant", stderr, 1, true)
    assert.is_nil(stderr:find("internal error", 1, true))
    for _, text in ipairs({ out, stderr }) do
      assert.is_nil(text:find("SECRET", 1, true))
      assert.is_nil(text:find(pem_body, 1, true))
    end
  end)

  describe("failures", function()
    local bad = {
      { "a key file that is not JSON", "not json {", "not valid JSON" },
      { "a key without client_email", { client_email = false }, "client_email" },
      { "a private_key that is not PEM", { private_key = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" }, "private_key" },
      { "a type that is not a string", { type = 7 }, "type" },
    }
    for _, case in ipairs(bad) do
      it("names the file and the field for " .. case[1], function()
        local path = dir .. "/bad.json"
        if type(case[2]) == "string" then
          h.write(path, case[2])
        else
          local key = key_file(dir, "http://127.0.0.1:" .. fake.port .. "/token")
          for k, v in pairs(case[2]) do key[k] = v or nil end -- false removes the field
          h.write(path, cloudrun.json.encode(key))
        end
        local creds, err = cloudrun.auth.from_file(path)
        assert.is_nil(creds)
        assert.matches(path, err.message, 1, true)
        assert.matches(case[3], err.message, 1, true)
        assert.is_nil(err.message:find(pem_body, 1, true))
        assert.is_nil(err.message:find("PRIVATE KEY", 1, true))
      end)
    end

    for _, mode in ipairs({ "invalid_grant", "500", "garbage" }) do
      it("reports a token endpoint answering " .. mode .. " without echoing secrets", function()
        local f = start_fake(dir, "--mode " .. mode .. " --token ya29.SECRET-" .. mode)
        local path = dir .. "/" .. mode .. ".json"
        -- a distinct client_email: a separate credential, not the cached one
        h.write(path, cloudrun.json.encode(key_file(dir, "http://127.0.0.1:" .. f.port .. "/token",
          { client_email = mode .. "@key-project.iam.gserviceaccount.com" })))
        local creds = assert(cloudrun.auth.from_file(path))
        local token, err = creds:token()
        f.stop()
        assert.is_nil(token)
        assert.matches("127.0.0.1:" .. f.port, err.message, 1, true)
        local text = tostring(err)
        assert.is_nil(text:find("SECRET", 1, true))
        assert.is_nil(text:find(pem_body, 1, true))
        assert.is_nil(text:find("eyJ", 1, true)) -- no JWT
        if mode == "invalid_grant" then
          assert.are.equal("UNAUTHENTICATED", err.code)
          assert.matches("invalid_grant", err.message, 1, true)
        end
      end)
    end
  end)
end)
