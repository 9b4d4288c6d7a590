-- The step machines driven from Lua, as the nginx driver drives them: a tiny
-- driver here answers every SEND from a script (no server at all), keeps
-- tokens in a Lua table, and runs token fetches as machines of their own.
local cloudrun = require("cloudrun")
local h = require("helpers")

local JSON = { { "Content-Type", "application/json" } }

-- Runs m to its end. script: the answers to its SENDs, in order
-- ({status=, headers=, body=} or {fail=CODE, sent=bool}); tokens(m, what):
-- answers a TOKEN step. Returns what was sent (and waited), in order.
local function drive(m, script, tokens)
  local log = {}
  while true do
    local kind, what = m:step()
    if kind == "done" then return log end
    if kind == "send" then
      log[#log + 1] = what
      local answer = table.remove(script, 1)
      assert(answer, "an unexpected request: " .. what.method .. " " .. what.url)
      if answer.fail then
        m:fail(answer.fail, answer.message or "scripted failure", answer.sent)
      else
        m:respond(answer.status, answer.headers or JSON, answer.body or "")
      end
    elseif kind == "wait" then
      log[#log + 1] = { wait = what }
      m:waited()
    elseif kind == "token" then
      assert(tokens, "a token was asked for")(m, what)
    else
      error("unknown step " .. tostring(kind))
    end
  end
end

local function header(req, name)
  for _, kv in ipairs(req.headers) do
    if kv[1]:lower() == name:lower() then return kv[2] end
  end
end

local function anonymous(extra)
  local opts = { project = "p", region = "r", endpoint = "http://api.invalid", credentials = false }
  for k, v in pairs(extra or {}) do opts[k] = v end
  return assert(cloudrun.client(opts))
end

local RETRY = { retry = { attempts = 3, initial = 0.01 } }

describe("an API call machine driven from Lua", function()
  it("retries a read after a 503, waiting in between, and returns the resource", function()
    local m = assert(anonymous()._core:start("get_job", "j", RETRY))
    local log = drive(m, {
      { status = 503, body = '{"error":{"code":503,"message":"busy","status":"UNAVAILABLE"}}' },
      { status = 200, body = '{"name":"projects/p/locations/r/jobs/j"}' },
    })
    assert.are.equal(3, #log)
    assert.are.equal("GET", log[1].method)
    assert.are.equal("http://api.invalid/v2/projects/p/locations/r/jobs/j", log[1].url)
    assert.is_true(log[1].idempotent)
    assert.is_nil(header(log[1], "Authorization"))
    assert.is_true(log[2].wait > 0 and log[2].wait <= 0.01)
    assert.are.equal(log[1].url, log[3].url)
    assert.are.equal("projects/p/locations/r/jobs/j", m:result().name)
  end)

  it("never sends a change again once it may have arrived", function()
    local m = assert(anonymous()._core:start("run_job", "j", { args = { "x" }, retry = { attempts = 5 } }))
    local log = drive(m, { { fail = "UNAVAILABLE", message = "connection reset", sent = true } })
    assert.are.equal(1, #log)
    assert.is_false(log[1].idempotent)
    assert.are.equal('{"overrides":{"containerOverrides":[{"args":["x"]}]}}', log[1].body)
    local result, err = m:result()
    assert.is_nil(result)
    assert.are.equal("UNAVAILABLE", err.code)
  end)

  it("sends a change again when the connection was never made, and after a 429", function()
    local m = assert(anonymous()._core:start("run_job", "j", { retry = { attempts = 5, initial = 0.01 } }))
    local log = drive(m, {
      { fail = "UNAVAILABLE", message = "connection refused", sent = false },
      { status = 429, headers = { { "Retry-After", "0.05" } }, body = "" },
      { status = 200, body = '{"name":"op","metadata":{"name":"projects/p/locations/r/jobs/j/executions/j-abcde"}}' },
    })
    assert.are.equal(5, #log) -- send, wait, send, wait, send
    assert.is_true(log[4].wait >= 0.05)
    assert.are.equal("projects/p/locations/r/jobs/j/executions/j-abcde", m:result().execution)
  end)

  it("refuses a 503 on a change and says how many attempts a read took", function()
    local m = assert(anonymous()._core:start("delete_job", "j", RETRY))
    drive(m, { { status = 503, body = "" } })
    local _, err = m:result()
    assert.are.equal("UNAVAILABLE", err.code)
    m = assert(anonymous()._core:start("list_jobs", RETRY))
    drive(m, { { status = 503, body = "" }, { status = 502, body = "" }, { status = 500, body = "" } })
    _, err = m:result()
    assert.matches("after 3 attempts", err.message, 1, true)
  end)

  it("raises for a wrong method or argument before any step", function()
    local core = anonymous()._core
    assert.has_error(function() core:start("frobnicate") end)
    assert.has_error(function() core:start("get_job", {}) end)
    local m, err = core:start("get_job", "Not/A/Name")
    assert.is_nil(m)
    assert.are.equal("INVALID_ARGUMENT", err.code)
  end)
end)

describe("tokens driven from Lua", function()
  local dir, key

  setup(function()
    dir = h.tmpdir()
    local out, rc = h.run(("cd %s && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem 2>&1")
      :format(h.sh_quote(dir)))
    assert(rc == 0, out)
    key = {
      type = "service_account", project_id = "key-project", private_key_id = "kid-1",
      private_key = assert(h.read(dir .. "/key.pem")), client_email = "lua-driver@key-project.iam.gserviceaccount.com",
      client_id = "1", token_uri = "http://oauth.invalid/token",
    }
  end)

  teardown(function()
    os.execute("rm -rf " .. h.sh_quote(dir))
  end)

  -- A token store of the driver's own: key -> {token, expires_at}; fetches run as machines.
  local function store_driver(store, answers, fetched)
    return function(m, what)
      local entry = store[what.key]
      if not what.fresh then
        m:token(entry and entry.token, entry and entry.expires_at)
        return
      end
      if entry and what.stale and entry.token == what.stale then
        store[what.key] = nil
        if what.refused then what.credentials:refused() end
      elseif entry and entry.token ~= what.stale then
        m:token(entry.token, entry.expires_at)
        return
      end
      local fm = assert(what.credentials:fetch_machine(what.within))
      local log = drive(fm, { table.remove(answers, 1) })
      fetched[#fetched + 1] = log[1]
      local token, exp = fm:token_result()
      if not token then
        m:fail(exp.code, exp.message)
        return
      end
      store[what.key] = { token = token, expires_at = exp }
      m:token(token, exp)
    end
  end

  it("fetches a token for a call, and after a 401 drops it, fetches another and sends once more", function()
    local creds = assert(cloudrun.auth.from_json(key))
    local c = assert(cloudrun.client{ project = "p", region = "r", endpoint = "http://api.invalid", credentials = creds })
    local store, fetched = {}, {}
    local answers = {
      { status = 200, body = '{"access_token":"ya29.one","expires_in":3600,"token_type":"Bearer"}' },
      { status = 200, body = '{"access_token":"ya29.two","expires_in":3600,"token_type":"Bearer"}' },
    }
    local m = assert(c._core:start("get_execution", "j-abcde"))
    local log = drive(m, {
      { status = 401, body = '{"error":{"code":401,"message":"expired","status":"UNAUTHENTICATED"}}' },
      { status = 200, body = '{"name":"projects/p/locations/r/jobs/j/executions/j-abcde"}' },
    }, store_driver(store, answers, fetched))
    assert.are.equal(2, #fetched)
    for _, req in ipairs(fetched) do
      assert.are.equal("POST", req.method)
      assert.are.equal("http://oauth.invalid/token", req.url)
      assert.matches("^grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant%-type%%3Ajwt%-bearer&assertion=", req.body)
    end
    assert.are.equal(2, #log)
    assert.are.equal("Bearer ya29.one", header(log[1], "Authorization"))
    assert.are.equal("Bearer ya29.two", header(log[2], "Authorization"))
    assert.are.equal("projects/p/locations/r/jobs/j/executions/j-abcde", m:result().name)
    -- the store key names the source, never a secret
    local k = next(store)
    assert.matches("^service_account:%x+$", k)
    assert.are.equal(creds._handle:key(), k)
  end)

  it("reuses a stored token while it is fresh, and fetches when it is about to expire", function()
    local creds = assert(cloudrun.auth.from_json(key))
    local store, fetched = {}, {}
    store[creds._handle:key()] = { token = "ya29.stored", expires_at = os.time() + 3600 }
    local tm = creds._handle:token_machine()
    drive(tm, {}, store_driver(store, {}, fetched))
    assert.are.equal("ya29.stored", (tm:token_result()))
    assert.are.equal(0, #fetched)
    -- 3 min 45 s before it expires a token is no longer fresh
    store[creds._handle:key()] = { token = "ya29.old", expires_at = os.time() + 200 }
    tm = creds._handle:token_machine()
    drive(tm, {}, store_driver(store, {
      { status = 200, body = '{"access_token":"ya29.new","expires_in":3600}' },
    }, fetched))
    assert.are.equal("ya29.new", (tm:token_result()))
    assert.are.equal(1, #fetched)
  end)

  it("reports a token endpoint's refusal without a secret", function()
    local creds = assert(cloudrun.auth.from_json(key))
    local fm = assert(creds._handle:fetch_machine())
    drive(fm, { { status = 400, body = '{"error":"invalid_grant","error_description":"Invalid JWT Signature."}' } })
    local token, err = fm:token_result()
    assert.is_nil(token)
    assert.are.equal("UNAUTHENTICATED", err.code)
    assert.matches("token endpoint http://oauth.invalid/token answered 400: invalid_grant", err.message, 1, true)
    assert.is_nil(err.message:find("BEGIN", 1, true))
    assert.is_nil(err.message:find("eyJ", 1, true))
  end)
end)
