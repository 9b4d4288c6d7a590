-- The client against a hostile or broken server (cr-hostile on loopback) and
-- hostile inputs: bodies without end, far too large or compressed a
-- thousandfold stop at the cap (32 MiB) with memory flat; server text is bounded; a
-- secret the server quotes back never reaches a message; an empty success is
-- an error; TLS failures are clear and final, and a CA can be added; local
-- files that are not regular files are refused; names that would address
-- another resource are refused before anything is sent.
local cloudrun = require("cloudrun")
local core = require("cloudrun.core")
local h = require("helpers")

local HOSTILE = assert(os.getenv("CR_HOSTILE"), "CR_HOSTILE: the cr-hostile binary")
local FAKE = assert(os.getenv("CR_FAKE_GOOGLE"), "CR_FAKE_GOOGLE: the cr-fake-google binary")

-- The most memory this process has held so far (kB), from /proc.
local function peak_kb()
  local status = h.read("/proc/self/status") or ""
  return tonumber(status:match("VmHWM:%s*(%d+)")) or 0
end

describe("a hostile server", function()
  local dir, server, client

  local function hostile(extra)
    local opts = { project = "p", region = "r", endpoint = "http://127.0.0.1:" .. server.port, credentials = false,
      retry = { attempts = 1 } }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return assert(cloudrun.client(opts))
  end

  setup(function()
    dir = h.tmpdir()
    -- 256 MB of zeros, gzipped to about 250 kB
    local out, rc = h.run(("head -c 268435456 /dev/zero | gzip -c > %s/bomb.gz"):format(h.sh_quote(dir)))
    assert(rc == 0, out)
    local s = h.spawn(("%s --port 0 --bomb %s"):format(h.sh_quote(HOSTILE), h.sh_quote(dir .. "/bomb.gz")),
      "^hostile listening on 127%.0%.0%.1:(%d+)$")
    server = { port = s.match, stop = function() h.stop(s.pid, s.pipe) end }
    client = hostile()
  end)

  teardown(function()
    if server then server.stop() end
    os.execute("rm -rf " .. h.sh_quote(dir))
  end)

  local caps = {
    { "an endless chunked body", "endless" },
    { "a 1 GiB Content-Length", "huge" },
    { "a compressed body that expands to 256 MB", "bomb" },
  }
  for _, case in ipairs(caps) do
    it("stops " .. case[1] .. " at the cap, with memory flat, and does not retry it", function()
      local before = peak_kb()
      local t0 = core.monotonic()
      local job, err = hostile{ retry = { attempts = 3 } }:get_job(case[2])
      assert.is_nil(job)
      assert.are.equal("RESOURCE_EXHAUSTED", err.code)
      assert.matches("larger than this client takes", err.message, 1, true)
      assert.is_nil(err.message:find("(after", 1, true)) -- one attempt: asking again brings the same
      assert.is_true(peak_kb() - before < 128 * 1024, "peak grew by " .. (peak_kb() - before) .. " kB")
      assert.is_true(core.monotonic() - t0 < 20)
    end)
  end

  it("keeps a 20 MB error message to a line, marked as cut (a 50 MB one is past the body cap)", function()
    local _, err = client:get_job("long-error")
    assert.are.equal("INTERNAL", err.code)
    assert.is_true(#err.message < 2200, #err.message)
    assert.matches("more bytes not shown]", err.message, 1, true)
  end)

  it("never puts the token it sent into a message when the server quotes it back", function()
    local token = "ya29.a0AfB_byC3p0SECRETSECRETSECRET" .. string.rep("z", 100)
    local c = hostile{ credentials = cloudrun.auth.access_token(token) }
    local _, err = c:get_job("echo-auth")
    assert.are.equal("UNAUTHENTICATED", err.code)
    assert.matches("Request had invalid authentication credentials", err.message, 1, true)
    assert.matches("[REDACTED]", err.message, 1, true)
    assert.is_nil(err.message:find("SECRET", 1, true), err.message)
    assert.is_nil(tostring(err):find("SECRET", 1, true))
  end)

  it("never puts a refresh token or client secret into a message when a token endpoint quotes them", function()
    local creds = assert(cloudrun.auth.from_json({
      type = "authorized_user", client_id = "the-client.apps.googleusercontent.com",
      client_secret = "GOCSPX-clientSECRETvalue/with+chars", refresh_token = "1//0gREFRESHtokenSECRETvalue-xyz",
      token_uri = "http://127.0.0.1:" .. server.port .. "/token",
    }, "hostile test"))
    local token, err = creds:token()
    assert.is_nil(token)
    assert.are.equal("UNAUTHENTICATED", err.code)
    assert.matches("invalid_grant", err.message, 1, true)
    for _, secret in ipairs({ "SECRETvalue", "REFRESHtoken", "clientSECRET" }) do
      assert.is_nil(err.message:find(secret, 1, true), err.message)
    end
  end)

  it("takes an empty 2xx for an error, not for a resource", function()
    local job, err = client:get_job("empty")
    assert.is_nil(job)
    assert.matches("empty where a resource was expected", err.message, 1, true)
  end)
end)

describe("TLS", function()
  local dir, pid, pipe, port

  setup(function()
    dir = h.tmpdir()
    local out, rc = h.run(("cd %s && "
      .. "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=test-root "
      .. "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>&1 && "
      .. "openssl req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj /CN=localhost 2>&1 && "
      .. "printf 'subjectAltName=DNS:localhost\\nextendedKeyUsage=serverAuth\\n' > leaf.ext && "
      .. "openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.pem -days 2 "
      .. "-extfile leaf.ext 2>&1 && mkdir -p www/v2/projects/p/locations/r/jobs && "
      .. "printf '{\"name\":\"projects/p/locations/r/jobs/tls\"}' > www/v2/projects/p/locations/r/jobs/tls"):format(
      h.sh_quote(dir)))
    assert(rc == 0, out)
    -- openssl's own test server: -WWW serves files from its directory over TLS. A port
    -- another process holds fails it: try another (seeded per process: LuaJIT's
    -- math.random is the same sequence in every run), until it answers over TLS.
    math.randomseed(os.time() + tonumber((h.run("echo $$"))))
    for _ = 1, 10 do
      port = math.random(20000, 59999)
      local p = assert(io.popen(("cd %s/www && echo $$ && exec openssl s_server -quiet -accept 127.0.0.1:%d "
        .. "-cert ../leaf.pem -key ../leaf.key -WWW 2>&1"):format(h.sh_quote(dir), port)))
      pid, pipe = p:read("*l"), p
      local up = false
      for _ = 1, 50 do
        os.execute("sleep 0.1")
        if not h.run("kill -0 " .. pid .. " 2>/dev/null && echo alive"):find("alive") then break end
        local _, answered = h.run(("curl -sk -o /dev/null https://127.0.0.1:%d/v2/projects/p/locations/r/jobs/tls")
          :format(port))
        if answered == 0 then up = true break end
      end
      if up then break end
      h.stop(pid, pipe)
      pid = nil
    end
    assert(pid, "openssl s_server did not start")
  end)

  teardown(function()
    if pid then h.stop(pid, pipe) end
    os.execute("rm -rf " .. h.sh_quote(dir))
  end)

  local function tls_client(extra)
    local opts = { project = "p", region = "r", endpoint = "https://localhost:" .. port, credentials = false,
      retry = { attempts = 5, initial = 0.5 } }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return assert(cloudrun.client(opts))
  end

  it("fails at once, naming the host and what to do, when the certificate does not verify", function()
    local t0 = core.monotonic()
    local job, err = tls_client():get_job("tls")
    assert.is_nil(job)
    assert.are.equal("FAILED_PRECONDITION", err.code)
    assert.matches("https://localhost:" .. port, err.message, 1, true)
    assert.matches("ca_file", err.message, 1, true)
    assert.matches("CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE", err.message, 1, true)
    assert.is_true(core.monotonic() - t0 < 0.5, "retried") -- not retried: retries would wait
  end)

  it("trusts a CA added with ca_file, besides the system's", function()
    local job = assert(tls_client{ ca_file = dir .. "/ca.pem" }:get_job("tls"))
    assert.are.equal("projects/p/locations/r/jobs/tls", job.name)
  end)

  it("trusts a CA added with $CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE", function()
    local out, rc = h.run(("CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE=%s %s -e %s 2>&1"):format(h.sh_quote(dir .. "/ca.pem"),
      h.sh_quote(h.bin .. "/cloudrun-lua"), h.sh_quote(([[
        local c = assert(require("cloudrun").client{ project = "p", region = "r", endpoint = "https://localhost:%d",
          credentials = false })
        print(assert(c:get_job("tls")).name)]]):format(port))))
    assert.are.equal(0, rc, out)
    assert.are.equal("projects/p/locations/r/jobs/tls\n", out)
  end)

  it("refuses a ca_file that is not a readable PEM bundle", function()
    local c, err = cloudrun.client{ project = "p", region = "r", endpoint = "https://localhost:1",
      credentials = false, ca_file = dir .. "/nope.pem" }
    assert.is_nil(c)
    assert.matches("nope.pem", err.message, 1, true)
    h.write(dir .. "/junk.pem", "not a certificate")
    c, err = cloudrun.client{ project = "p", region = "r", credentials = false, ca_file = dir .. "/junk.pem" }
    assert.is_nil(c)
    assert.matches("no PEM certificate", err.message, 1, true)
  end)
end)

describe("hostile inputs", function()
  local dir

  setup(function() dir = h.tmpdir() end)
  teardown(function() os.execute("rm -rf " .. h.sh_quote(dir)) end)

  it("refuses a credentials path that is a FIFO, a device or too large, at once", function()
    os.execute("mkfifo " .. h.sh_quote(dir .. "/fifo"))
    local t0 = core.monotonic()
    local creds, err = cloudrun.auth.from_file(dir .. "/fifo")
    assert.is_nil(creds)
    assert.matches("not a regular file", err.message, 1, true)
    creds, err = cloudrun.auth.from_file("/dev/zero")
    assert.is_nil(creds)
    assert.matches("not a regular file", err.message, 1, true)
    h.write(dir .. "/big.json", "{" .. string.rep(" ", 2 * 1024 * 1024) .. "}")
    creds, err = cloudrun.auth.from_file(dir .. "/big.json")
    assert.is_nil(creds)
    assert.matches("larger than", err.message, 1, true)
    assert.is_true(core.monotonic() - t0 < 1)
  end)

  it("bounds a token fetch by the client's timeout", function()
    local s = h.spawn(("%s --port 0 --mode slow --delay 20"):format(h.sh_quote(FAKE)),
      "^fake%-google listening on 127%.0%.0%.1:(%d+)$")
    local out, rc = h.run(("cd %s && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out k.pem 2>&1")
      :format(h.sh_quote(dir)))
    assert(rc == 0, out)
    local creds = assert(cloudrun.auth.from_json({
      type = "service_account", client_email = "slow@p.iam.gserviceaccount.com", private_key = h.read(dir .. "/k.pem"),
      token_uri = "http://127.0.0.1:" .. s.match .. "/token",
    }, "slow"))
    local c = assert(cloudrun.client{ project = "p", region = "r", endpoint = "http://127.0.0.1:9", credentials = creds,
      timeout = 1, retry = { attempts = 1 } })
    local t0 = core.monotonic()
    local job, err = c:get_job("x")
    local took = core.monotonic() - t0
    h.stop(s.pid, s.pipe)
    assert.is_nil(job)
    assert.are.equal("DEADLINE_EXCEEDED", err.code)
    assert.is_true(took < 5, "took " .. took .. " s")
  end)

  it("refuses names that would address another resource, before sending", function()
    local c = assert(cloudrun.client{ project = "p", region = "r", endpoint = "http://127.0.0.1:9", credentials = false })
    for _, name in ipairs({ "..", ".", "projects/p/locations/r/jobs/..", "a/../b", "a?b", "a#b", "a%2Fb", "a b" }) do
      local job, err = c:get_job(name)
      assert.is_nil(job, name)
      assert.are.equal("INVALID_ARGUMENT", err.code, name)
    end
    local _, err = c._core:call("GET", "projects/p/locations/r/jobs/../../secrets")
    assert.are.equal("INVALID_ARGUMENT", err.code)
    _, err = c._core:call("GET", "projects/p/locations/r/jobs/x?alt=media")
    assert.are.equal("INVALID_ARGUMENT", err.code)
  end)

  it("never wraps a duration", function()
    assert.is_nil(core.duration("3153600000000ms3153600000000ms3153600000000ms"))
    assert.is_nil(core.duration("99999999999999999999s"))
    assert.is_nil(core.duration("18446744074s"))
    assert.are.equal(600, core.duration("10m"))
    local c = assert(cloudrun.client{ project = "p", region = "r", endpoint = "http://127.0.0.1:9", credentials = false })
    assert.has_error(function() c:run_job("j", { timeout = 1e20 }) end)
    assert.has_error(function() c:run_job("j", { timeout = "18446744074s" }) end)
    local bad, err = cloudrun.client{ project = "p", region = "r", credentials = false, timeout = 1e30 }
    assert.is_nil(bad)
    assert.are.equal("INVALID_ARGUMENT", err.code)
    local _, werr = c:wait_operation("op", 1e12)
    assert.are.equal("INVALID_ARGUMENT", werr.code)
    _, werr = c:get_job("j", { timeout = 1e30 })
    assert.are.equal("INVALID_ARGUMENT", werr.code)
  end)
end)
