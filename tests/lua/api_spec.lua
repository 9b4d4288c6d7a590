-- The Lua API without a server: options, argument checks, error values.
local cloudrun = require("cloudrun")

describe("cloudrun.client", function()
  it("accepts the documented options", function()
    local c = assert(cloudrun.client{ project = "p", region = "r", endpoint = "http://127.0.0.1:9",
                                      timeout = 5, credentials = false })
    assert.are.equal("projects/p/locations/r/jobs/j", c:job_name("j"))
    assert.are.equal("http://127.0.0.1:9", (c:endpoint()))
  end)

  local bad = {
    { "an unknown option", { projet = "p" }, "unknown option 'projet'" },
    { "a project that is not a string", { project = 42 }, "option 'project' must be a string" },
    { "a non-positive timeout", { timeout = 0 }, "timeout" },
    { "credentials of a wrong type", { credentials = 42 }, "credentials" },
  }
  for _, case in ipairs(bad) do
    it("raises on " .. case[1], function()
      assert.has_error(function() cloudrun.client(case[2]) end)
      local ok, msg = pcall(cloudrun.client, case[2])
      assert.is_false(ok)
      assert.matches(case[3], msg, 1, true)
    end)
  end

  it("raises when the options are not a table", function()
    local ok, msg = pcall(cloudrun.client, "p")
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'client'", msg, 1, true)
  end)

  it("returns nil, err for a credentials file that does not exist", function()
    local c, err = cloudrun.client{ project = "p", region = "r", credentials = "/nonexistent/key.json" }
    assert.is_nil(c)
    assert.are.equal("NOT_FOUND", err.code)
    assert.matches("/nonexistent/key.json", err.message, 1, true)
  end)

  it("says where it looked when there is no project", function()
    local c = assert(cloudrun.client{ region = "r", credentials = false, endpoint = "http://127.0.0.1:9" })
    if os.getenv("GOOGLE_CLOUD_PROJECT") or os.getenv("CLOUDSDK_CORE_PROJECT") then return end
    local name, err = c:job_name("j")
    assert.is_nil(name)
    assert.are.equal("INVALID_ARGUMENT", err.code)
    assert.matches("GOOGLE_CLOUD_PROJECT", err.message, 1, true)
  end)
end)

describe("client:run_job argument checks", function()
  local c = assert(cloudrun.client{ project = "p", region = "r", endpoint = "http://127.0.0.1:9", credentials = false })

  local cases = {
    { "a job that is not a string", function() c:run_job(42) end, "bad argument #1 to 'run_job'" },
    { "an empty job name", function() c:run_job("") end, "bad argument #1 to 'run_job'" },
    { "options that are not a table", function() c:run_job("j", "x") end, "bad argument #2 to 'run_job'" },
    { "an unknown option", function() c:run_job("j", { task = 1 }) end, "unknown option 'task'" },
    { "a non-string element in args", function() c:run_job("j", { args = { "a", 2 } }) end,
      "option 'args': element 2 must be a string" },
    { "args that are not a list", function() c:run_job("j", { args = "a b" }) end, "option 'args' must be a list" },
    { "args with holes", function() c:run_job("j", { args = { "a", nil, "c" } }) end, "option 'args'" },
    { "a negative task_count", function() c:run_job("j", { task_count = -1 }) end,
      "option 'task_count' must be a non-negative integer" },
    { "a fractional task_count", function() c:run_job("j", { task_count = 1.5 }) end,
      "option 'task_count' must be a non-negative integer" },
    { "a task_count above Cloud Run's limit", function() c:run_job("j", { task_count = 10001 }) end,
      "option 'task_count'" },
    { "a bad timeout string", function() c:run_job("j", { timeout = "soon" }) end, "option 'timeout'" },
    { "a negative timeout", function() c:run_job("j", { timeout = -5 }) end, "option 'timeout'" },
    { "a timeout of a wrong type", function() c:run_job("j", { timeout = true }) end, "option 'timeout'" },
    { "an env value of a wrong type", function() c:run_job("j", { env = { A = {} } }) end, "option 'env'" },
    { "an env list entry without a name", function() c:run_job("j", { env = { { value = "x" } } }) end,
      "needs a string 'name'" },
    { "a clear_args that is not a boolean", function() c:run_job("j", { clear_args = "yes" }) end,
      "option 'clear_args' must be a boolean" },
    { "a container that is not a string", function() c:run_job("j", { container = 1 }) end,
      "option 'container' must be a string" },
  }
  for _, case in ipairs(cases) do
    it("raises on " .. case[1], function()
      local ok, msg = pcall(case[2])
      assert.is_false(ok)
      assert.matches(case[3], msg, 1, true)
    end)
  end

  it("returns UNAVAILABLE naming the URL when the endpoint is unreachable, after retrying", function()
    -- a connection that was never made cannot have started anything: even run_job retries it
    local op, err = c:run_job("j", { args = { "x" }, timeout = "10m", env = { A = 1 },
                                     retry = { attempts = 3, initial = 0.01 } })
    assert.is_nil(op)
    assert.are.equal("UNAVAILABLE", err.code)
    assert.is_true(err.retryable)
    assert.matches("http://127.0.0.1:9/v2/projects/p/locations/r/jobs/j:run", err.message, 1, true)
    assert.matches("(after 3 attempts)", err.message, 1, true)
    assert.matches("^UNAVAILABLE: ", tostring(err))
  end)
end)

describe("client:wait argument checks", function()
  local c = assert(cloudrun.client{ project = "p", region = "r", endpoint = "http://127.0.0.1:9", credentials = false })
  it("raises for something that names no execution", function()
    local ok, msg = pcall(c.wait, c, { name = "projects/p/locations/r/operations/x" })
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'wait'", msg, 1, true)
  end)
  it("raises for an unknown option", function()
    local ok, msg = pcall(c.wait, c, "j-abcde", { timout = 3 })
    assert.is_false(ok)
    assert.matches("unknown option 'timout'", msg, 1, true)
  end)
end)

describe("error values", function()
  it("carry code, status, message, retryable and print as one line", function()
    local e = cloudrun.error("NOT_FOUND", "no such job", 404)
    assert.are.equal("NOT_FOUND", e.code)
    assert.are.equal(404, e.status)
    assert.is_false(e.retryable)
    assert.are.equal("NOT_FOUND: no such job (HTTP 404)", tostring(e))
    assert.is_true(cloudrun.error("UNAVAILABLE", "x").retryable)
  end)
end)

describe("cloudrun.json", function()
  it("round-trips resources, keeping empty arrays arrays", function()
    local v = cloudrun.json.decode('{"a":[],"b":{"c":[1,2.5,"x"]},"n":9007199254740991,"t":true}')
    assert.are.same({ 1, 2.5, "x" }, v.b.c)
    assert.are.equal(9007199254740991, v.n)
    if math.type then -- 5.3+: an integral JSON number is a Lua integer (5.1 and 5.2 have only floats)
      assert.are.equal("integer", math.type(v.n))
    end
    assert.are.equal('[]', cloudrun.json.encode(v.a))
    local again = cloudrun.json.decode(cloudrun.json.encode(v))
    assert.are.same(v, again)
  end)
  it("refuses what JSON cannot carry, saying where", function()
    local ok, msg = pcall(cloudrun.json.encode, { a = { b = function() end } })
    assert.is_false(ok)
    assert.matches("value.a.b", msg, 1, true)
  end)
  it("returns nil, message for invalid JSON", function()
    local v, msg = cloudrun.json.decode('{"a":')
    assert.is_nil(v)
    assert.matches("invalid JSON", msg, 1, true)
  end)
  it("keeps a NUL in a string whole, decoding and encoding (it used to cut the string there)", function()
    local v = cloudrun.json.decode('{"a":"x\\u0000y","k\\u0000z":["\\u0000"],"raw":"p\0q","n":null}')
    assert.are.equal("x\0y", v.a)
    assert.are.same({ "\0" }, v["k\0z"])
    assert.are.equal("p\0q", v.raw)
    assert.are.equal('{"a":"x\\u0000y\\n\\"\\u0001"}', cloudrun.json.encode({ a = "x\0y\n\"\1" }))
    assert.are.equal('["\\u0000",1]', cloudrun.json.encode(setmetatable({ "\0", 1 }, require("cloudrun.core").array_mt)))
    local again = cloudrun.json.decode(cloudrun.json.encode({ s = "a\0b\0", t = { "\0\0" } }))
    assert.are.same({ s = "a\0b\0", t = { "\0\0" } }, again)
    -- a key cannot be written whole by cJSON: refused, never cut
    local ok, msg = pcall(cloudrun.json.encode, { ["a\0b"] = 1 })
    assert.is_false(ok)
    assert.matches("key holds a NUL byte", msg, 1, true)
  end)
end)

-- A NUL byte in any string the API sends would be cut there by the core's C
-- strings: a different name, argument or value than was asked. Every one is
-- refused before anything is sent, naming the method and the option.
describe("a NUL byte in what a call sends", function()
  local c = assert(cloudrun.client{ project = "p", region = "r", endpoint = "http://127.0.0.1:9", credentials = false })
  local cases = {
    { "a job name", function() return c:run_job("re\0port") end, "the job name holds a NUL byte" },
    { "an execution name", function() return c:get_execution("j/executions/e\0x") end, "name holds a NUL byte" },
    { "a task name", function() return c:get_task("j/executions/e/tasks/t\0") end, "name holds a NUL byte" },
    { "an argument", function() return c:run_job("j", { args = { "a", "b\0c" } }) end,
      "run_job: option 'args': element 2 holds a NUL byte" },
    { "an env value", function() return c:run_job("j", { env = { ID = "4\0; rm" } }) end,
      "run_job: option 'env': the value of ID holds a NUL byte" },
    { "an env name", function() return c:run_job("j", { env = { ["I\0D"] = "4" } }) end,
      "run_job: option 'env': a name holds a NUL byte" },
    { "an env name in the list form", function() return c:run_job("j", { env = { { name = "I\0D", value = "4" } } }) end,
      "the name of element 1 holds a NUL byte" },
    { "an env value in the list form", function() return c:run_job("j", { env = { { name = "ID", value = "4\0" } } }) end,
      "the value of element 1 holds a NUL byte" },
    { "a string option", function() return c:list_jobs({ page_token = "t\0x" }) end,
      "option 'page_token' holds a NUL byte" },
    { "an option name", function() return c:run_job("j", { ["args\0x"] = { "a" } }) end,
      "an option name holds a NUL byte" },
    { "a label in a spec", function() return c:create_job("j", { labels = { team = "a\0b" } }) end,
      "spec.labels.team: string holds a NUL byte" },
    { "a key in a spec", function() return c:create_job("j", { labels = { ["te\0am"] = "a" } }) end,
      "key holds a NUL byte" },
    { "a run_jobs entry's job", function() return c:run_jobs({ { job = "j\0k" } }) end,
      "run_jobs: entry 1: the job name holds a NUL byte" },
    { "a run_jobs entry's argument", function() return c:run_jobs({ { job = "j", args = { "\0" } } }) end,
      "element 1 holds a NUL byte" },
    { "a call's path", function() return c._core:call("GET", "projects/p/locations/r/jobs/j\0x") end,
      "the path holds a NUL byte" },
    { "a call's body", function() return c._core:call("POST", "projects/p/locations/r/jobs", nil, { a = "\0" }) end,
      "body.a: string holds a NUL byte" },
    { "a client option", function() return cloudrun.client{ project = "p\0q", credentials = false } end,
      "client: option 'project' holds a NUL byte" },
    { "a credentials path", function() return cloudrun.auth.from_file("/tmp/key\0.json") end, "NUL byte" },
    { "an access token", function() return cloudrun.auth.access_token("ya29.a\0b") end, "NUL byte" },
  }
  for _, case in ipairs(cases) do
    it("refuses " .. case[1], function()
      local ok, msg = pcall(case[2])
      assert.is_false(ok, case[1])
      assert.matches(case[3], tostring(msg), 1, true)
    end)
  end

  it("refuses a NUL in an --env-vars-file name or value, naming the name (gcloud's YAML)", function()
    local core = require("cloudrun.core")
    local map, err = core.yaml_string_map('A: "x\\0y"\n', "env.yaml")
    assert.is_nil(map)
    assert.are.equal("INVALID_ARGUMENT", err.code)
    assert.matches("env.yaml: the value of A holds a NUL byte", err.message, 1, true)
    map, err = core.yaml_string_map('"B\\0C": x\n', "env.yaml")
    assert.is_nil(map)
    assert.matches("env.yaml: the name B... holds a NUL byte", err.message, 1, true)
    assert.are.same({ A = "x\\y" }, core.yaml_string_map("A: x\\y\n", "env.yaml"))
  end)
end)
