-- The cases of drivers_spec.lua, and how one is run and its outcome written
-- down: loaded by busted (the blocking and multi drivers) and by a
-- content_by_lua handler inside nginx (the cosocket driver), so that every
-- driver runs the very same case and reports it the same way. Nothing here
-- touches a server's control API or knows which driver it is on: the spec
-- arranges faults and counts calls around each run.
local M = {}

local FAST = { initial = 0.01, max = 0.05 }
M.FAST = FAST

local function copy(t)
  local c = {}
  for k, v in pairs(t or {}) do c[k] = v end
  return c
end

-- Five triggers of "hello" with entry 3 replaced by `bad`.
local function five_with_third(bad)
  local list = {}
  for i = 1, 5 do list[i] = { job = "hello", args = { "entry-" .. i } } end
  list[3] = bad
  return list
end

--[[
A case:
  name     the case's name (the nginx handler finds it by this)
  via      which forms it runs in: "call" (client:<method>(...): the blocking
           driver, and nginx's) and/or "run_jobs" (client:run_jobs: the multi
           driver, and nginx's light threads)
  method, args   the call; its run_jobs form is the one entry {job = args[1], <args[2]>}
  list, in_flight   a run_jobs-only case's list and its in_flight
  client   client options on top of the usual ones (timeout, ...)
  server   "emulator" (default) or "hostile" (cr-hostile: a 401 for every call)
  fake     the cr-fake-google whose token endpoint the credentials use; none: no credentials
  faults   emulator faults injected before the run
  secret   text that must never be in the error's tostring
  message_has   texts the err's message must hold (a hint the core adds, on every driver)
  expect   the outcome:
             {ok = true}                                 a result (the same table on every driver)
             {code=, status=, retryable=[, sent=]}       nil, err with these fields (sent = true: the
                                                         err says the request may have reached the server)
             {raises = {text, ...}}                      a raised error whose message holds each text
                                                         (the run_jobs form also "entry N")
             {results = {"ok" | CODE, ...}, failed = n}  run_jobs: each entry's result, how many failed
  calls    what the server saw, per RPC (the emulator) or in all (cr-hostile): nothing else is sent
  started  executions of "hello" that the run started
  tokens   requests to the token endpoint
  within   seconds the run may take at most (its deadline holds)
  at_least seconds the run takes at least (it was held back)
  spaced   seconds at least between the createTimes of the executions it started
  per_minute, run_retry   run_jobs' per_minute and retry (default FAST)
  twice    the call (or run_jobs) is made twice, this many seconds apart: the outcome is the second's
  unique_key   the idempotency_key gets a suffix of its own on every run (each driver starts afresh)
  value_has, value_lacks   texts the result (as canon writes it) must hold, must not hold
  lua_made the result is made by the Lua layer (a key's), not read from an answer: no libcurl reference
]]
M.cases = {
  { name = "get_job of a job that exists", via = { "call" }, method = "get_job", args = { "reader" },
    expect = { ok = true }, calls = { GetJob = 1 } },
  { name = "run_job of a job that exists", via = { "call", "run_jobs" }, method = "run_job",
    args = { "hello", { args = { "x" }, env = { A = "1" } } },
    expect = { ok = true }, calls = { RunJob = 1 }, started = 1 },

  { name = "get_job of an unknown job", via = { "call" }, method = "get_job", args = { "nosuch" },
    expect = { code = "NOT_FOUND", status = 404, retryable = false }, calls = { GetJob = 1 } },
  { name = "run_job of an unknown job", via = { "call", "run_jobs" }, method = "run_job", args = { "nosuch" },
    expect = { code = "NOT_FOUND", status = 404, retryable = false }, calls = { RunJob = 1 } },

  { name = "run_job with task_count = 'x'", via = { "call", "run_jobs" }, method = "run_job",
    args = { "hello", { task_count = "x" } }, expect = { raises = { "task_count" } }, calls = {} },
  { name = "run_job with an unknown option", via = { "call", "run_jobs" }, method = "run_job",
    args = { "hello", { colour = "red" } }, expect = { raises = { "colour" } }, calls = {} },
  { name = "run_job with an env value of a wrong type", via = { "call", "run_jobs" }, method = "run_job",
    args = { "hello", { env = { A = {} } } }, expect = { raises = { "env" } }, calls = {} },
  { name = "run_jobs of 5 whose entry 3 has task_count = 'x'", via = { "run_jobs" },
    list = five_with_third({ job = "hello", task_count = "x" }),
    expect = { raises = { "entry 3", "task_count" } }, calls = {} },
  { name = "run_jobs of 5 whose entry 3 has an unknown option", via = { "run_jobs" },
    list = five_with_third({ job = "hello", colour = "red" }),
    expect = { raises = { "entry 3", "colour" } }, calls = {} },
  { name = "run_jobs of 5 whose entry 3 has an env value of a wrong type", via = { "run_jobs" },
    list = five_with_third({ job = "hello", env = { A = {} } }),
    expect = { raises = { "entry 3", "env" } }, calls = {} },
  { name = "run_jobs of 5 whose entry 3 has no job", via = { "run_jobs" },
    list = five_with_third({ args = { "x" } }),
    expect = { raises = { "entry 3", "job" } }, calls = {} },

  { name = "get_job through a 429", via = { "call" }, method = "get_job", args = { "reader" },
    faults = { { method = "GetJob", fault = "resource_exhausted" } },
    expect = { ok = true }, calls = { GetJob = 2 } },
  { name = "run_job through a 429", via = { "call", "run_jobs" }, method = "run_job", args = { "hello" },
    faults = { { method = "RunJob", fault = "resource_exhausted" } },
    expect = { ok = true }, calls = { RunJob = 2 }, started = 1 },
  { name = "run_job answered 503", via = { "call", "run_jobs" }, method = "run_job", args = { "hello" },
    faults = { { method = "RunJob", fault = "unavailable" } },
    expect = { code = "UNAVAILABLE", status = 503, retryable = true }, calls = { RunJob = 1 }, started = 0 },
  { name = "run_job whose connection is closed before it acts", via = { "call", "run_jobs" }, method = "run_job",
    args = { "hello" }, faults = { { method = "RunJob", fault = "drop" } },
    expect = { code = "UNAVAILABLE", retryable = true }, calls = { RunJob = 1 }, started = 0 },
  { name = "run_job whose connection is closed after it acted", via = { "call", "run_jobs" }, method = "run_job",
    args = { "hello" }, faults = { { method = "RunJob", fault = "reset_after_effect" } },
    expect = { code = "UNAVAILABLE", retryable = true, sent = true }, calls = { RunJob = 1 }, started = 1 },
  { name = "run_job whose answer comes after the timeout", via = { "call", "run_jobs" }, method = "run_job",
    args = { "hello" }, client = { timeout = 0.3 }, faults = { { method = "RunJob", fault = "delay", delay_ms = 700 } },
    expect = { code = "DEADLINE_EXCEEDED", retryable = true, sent = true }, calls = { RunJob = 1 }, started = 1 },

  -- the API refuses the token once: one fresh token, one resend (needs a 401 fault in the emulator)
  { name = "get_job answered 401 once", via = { "call" }, method = "get_job", args = { "reader" }, fake = "ok",
    faults = { { method = "GetJob", fault = "unauthenticated" } },
    expect = { ok = true }, calls = { GetJob = 2 }, tokens = 2 },
  { name = "run_job answered 401 once", via = { "call", "run_jobs" }, method = "run_job", args = { "hello" },
    fake = "ok", faults = { { method = "RunJob", fault = "unauthenticated" } },
    expect = { ok = true }, calls = { RunJob = 2 }, tokens = 2, started = 1 },
  -- a server that refuses every token (and quotes it back): one fresh token, one resend, then the 401
  { name = "get_job answered 401 every time", via = { "call" }, method = "get_job", args = { "echo-auth" },
    server = "hostile", fake = "long", secret = "ya29.",
    expect = { code = "UNAUTHENTICATED", status = 401, retryable = false }, calls = 2, tokens = 2 },

  { name = "get_job when the token endpoint refuses the grant", via = { "call" }, method = "get_job",
    args = { "reader" }, fake = "invalid_grant", secret = "SECRET",
    expect = { code = "UNAUTHENTICATED", status = 400, retryable = false }, calls = {}, tokens = 1 },
  -- a header value with a line break (here the key file's quota_project_id) never reaches the
  -- wire, on any driver: the file is refused when the client is made, naming the field (the
  -- check at send, cr_http_request_check, under every driver, is test_util's)
  { name = "run_job with a line break in a header value", via = { "call", "run_jobs" }, method = "run_job",
    args = { "hello" }, fake = "ok", quota = "p\r\nX-Injected: 1", refused_at_load = true,
    expect = { code = "INVALID_ARGUMENT", retryable = false }, calls = {}, started = 0 },
  { name = "run_job when the token endpoint answers 500", via = { "call", "run_jobs" }, method = "run_job",
    args = { "hello" }, fake = "500", secret = "SECRET",
    expect = { code = "UNAVAILABLE", status = 500, retryable = true }, calls = {}, started = 0 },
  { name = "run_job when the token endpoint answers garbage holding the token", via = { "call", "run_jobs" },
    method = "run_job", args = { "hello" }, fake = "garbage", secret = "SECRET",
    expect = { code = "INTERNAL", status = 200, retryable = false }, calls = {}, tokens = 1, started = 0 },

  -- several containers: the API (here the emulator) refuses a name the job lacks; both forms at once raise
  { name = "run_job with containers naming none of the job's", via = { "call", "run_jobs" }, method = "run_job",
    args = { "hello", { containers = { nosuch = { args = { "x" } } } } },
    expect = { code = "INVALID_ARGUMENT", status = 400, retryable = false }, message_has = { "'nosuch'" },
    calls = { RunJob = 1 }, started = 0 },
  { name = "run_job with containers and args", via = { "call", "run_jobs" }, method = "run_job",
    args = { "hello", { containers = { main = { args = { "x" } } }, args = { "y" } } },
    expect = { raises = { "'containers' and 'args' cannot be given together" } }, calls = {} },
  -- the hint a refused RunJob with overrides gets is the core's: every driver's message has it
  { name = "run_job with overrides refused by IAM", via = { "call", "run_jobs" }, method = "run_job",
    args = { "hello", { args = { "x" } } }, faults = { { method = "RunJob", fault = "permission_denied" } },
    expect = { code = "PERMISSION_DENIED", status = 403, retryable = false },
    message_has = { "The caller does not have permission. Hint: ", "run.jobs.runWithOverrides",
                    "roles/run.jobsExecutorWithOverrides", "roles/run.developer" },
    calls = { RunJob = 1 }, started = 0 },
  -- IAM (issue 22): a read, a change that is never resent once sent, a POST that retries as a read, misuse
  { name = "get_iam_policy of a job that exists", via = { "call" }, method = "get_iam_policy",
    args = { "reader", { requested_policy_version = 1 } }, expect = { ok = true }, calls = { GetIamPolicy = 1 } },
  { name = "set_iam_policy answered 503", via = { "call" }, method = "set_iam_policy",
    args = { "reader", { bindings = { { role = "roles/run.invoker", members = { "allUsers" } } } }, "bindings" },
    faults = { { method = "SetIamPolicy", fault = "unavailable" } },
    expect = { code = "UNAVAILABLE", status = 503, retryable = true }, calls = { SetIamPolicy = 1 } },
  { name = "test_iam_permissions through a 503", via = { "call" }, method = "test_iam_permissions",
    args = { "reader", { "run.jobs.run", "storage.objects.get" } },
    faults = { { method = "TestIamPermissions", fault = "unavailable" } },
    expect = { ok = true }, calls = { TestIamPermissions = 2 } },
  { name = "set_iam_policy with a policy that is not a table", via = { "call" }, method = "set_iam_policy",
    args = { "reader", "allUsers" }, expect = { raises = { "policy table expected" } }, calls = {} },

  { name = "run_jobs of 4, in_flight 2, one of an unknown job", via = { "run_jobs" }, in_flight = 2,
    list = { { job = "hello" }, { job = "nosuch" }, { job = "hello" }, { job = "hello" } },
    expect = { results = { "ok", "NOT_FOUND", "ok", "ok" }, failed = 1 }, calls = { RunJob = 4 }, started = 3 },

  -- issue 24: rate limits. The RunJobs of a run spread evenly, one every 60/per_minute s from the first
  -- (the emulator's createTimes show it); the client's rate = holds every call, run_jobs' included.
  { name = "run_jobs of 4 at 120 a minute", via = { "run_jobs" }, in_flight = 4, per_minute = 120,
    list = { { job = "hello" }, { job = "hello" }, { job = "hello" }, { job = "hello" } },
    expect = { results = { "ok", "ok", "ok", "ok" }, failed = 0 }, calls = { RunJob = 4 }, started = 4,
    spaced = 0.5, at_least = 1.45, within = 4 },
  { name = "run_jobs of 3 at 600 a minute on a client of 60 RunJobs a minute", via = { "run_jobs" },
    in_flight = 3, per_minute = 600, client = { rate = { run_per_minute = 60 } },
    list = { { job = "hello" }, { job = "hello" }, { job = "hello" } },
    expect = { results = { "ok", "ok", "ok" }, failed = 0 }, calls = { RunJob = 3 }, started = 3,
    spaced = 1, at_least = 1.95, within = 5 },
  { name = "get_job twice on a client of 60 reads a minute", via = { "call" }, method = "get_job",
    args = { "reader" }, client = { rate = { read_per_minute = 60 } }, twice = 0,
    expect = { ok = true }, calls = { GetJob = 2 }, at_least = 0.95, within = 3 },
  -- a 429 with Retry-After holds the client's next call of that quota too, not just the one refused
  { name = "get_job after a get_job refused for its quota with Retry-After 1", via = { "call" },
    method = "get_job", args = { "reader" }, client = { retry = { attempts = 1 } }, twice = 0,
    faults = { { method = "GetJob", fault = "resource_exhausted", retry_after = 1 } },
    expect = { ok = true }, calls = { GetJob = 2 }, at_least = 0.9, within = 3 },
  { name = "run_jobs of 3, one at a time, whose first is refused for its quota with Retry-After 1",
    via = { "run_jobs" }, in_flight = 1, run_retry = { attempts = 1 },
    faults = { { method = "RunJob", fault = "resource_exhausted", retry_after = 1 } },
    list = { { job = "hello" }, { job = "hello" }, { job = "hello" } },
    expect = { results = { "RESOURCE_EXHAUSTED", "ok", "ok" }, failed = 1 }, calls = { RunJob = 3 }, started = 2,
    at_least = 0.9, within = 3 },

  -- issue 24: idempotent triggers. The same key twice: one execution, the second call answered from
  -- what the first remembered (no listing); a lost answer with a key: looked for, found, RunJob sent
  -- once; a key whose window has passed: a new execution; IAM's refusals say what the key needs.
  { name = "run_job with an idempotency key twice", via = { "call", "run_jobs" }, method = "run_job",
    args = { "hello", { args = { "x" }, idempotency_key = "twice" } }, unique_key = true, twice = 0, lua_made = true,
    expect = { ok = true }, value_has = { "deduplicated=true" }, value_lacks = { "recovered" },
    calls = { ListExecutions = 1, RunJob = 1 }, started = 1 },
  { name = "run_job with an idempotency key whose answer is lost", via = { "call", "run_jobs" },
    method = "run_job", args = { "hello", { idempotency_key = "lost" } }, unique_key = true, lua_made = true,
    faults = { { method = "RunJob", fault = "reset_after_effect" } },
    expect = { ok = true }, value_has = { "deduplicated=true", "recovered=true" },
    calls = { ListExecutions = 2, RunJob = 1 }, started = 1 },
  { name = "run_job with an idempotency key whose answer comes after the timeout", via = { "call", "run_jobs" },
    method = "run_job", args = { "hello", { idempotency_key = "slow" } }, unique_key = true, lua_made = true,
    faults = { { method = "RunJob", fault = "delay", delay_ms = 700 } }, client = { timeout = 0.3 },
    expect = { ok = true }, value_has = { "deduplicated=true", "recovered=true" },
    calls = { ListExecutions = 2, RunJob = 1 }, started = 1 },
  -- the connection closed before the RunJob acted: nothing found, so it is sent once more
  { name = "run_job with an idempotency key whose connection is closed before it acts", via = { "call", "run_jobs" },
    method = "run_job", args = { "hello", { idempotency_key = "dropped" } }, unique_key = true, lua_made = true,
    faults = { { method = "RunJob", fault = "drop" } },
    expect = { ok = true }, value_lacks = { "deduplicated" }, calls = { ListExecutions = 2, RunJob = 2 }, started = 1 },
  { name = "run_job with an idempotency key whose window has passed", via = { "call", "run_jobs" },
    method = "run_job", args = { "hello", { idempotency_key = "late", idempotency_window = 1 } },
    unique_key = true, twice = 2.2, lua_made = true,
    expect = { ok = true }, value_lacks = { "deduplicated" }, calls = { ListExecutions = 2, RunJob = 2 }, started = 2 },
  { name = "run_job with an idempotency key when IAM refuses the look-up", via = { "call", "run_jobs" },
    method = "run_job", args = { "hello", { idempotency_key = "iam-list" } }, unique_key = true,
    faults = { { method = "ListExecutions", fault = "permission_denied" } },
    expect = { code = "PERMISSION_DENIED", status = 403, retryable = false },
    message_has = { "run.executions.list", "roles/run.viewer" }, calls = { ListExecutions = 1 }, started = 0 },
  { name = "run_job with an idempotency key refused by IAM", via = { "call", "run_jobs" }, method = "run_job",
    args = { "hello", { idempotency_key = "iam-run" } }, unique_key = true,
    faults = { { method = "RunJob", fault = "permission_denied" } },
    expect = { code = "PERMISSION_DENIED", status = 403, retryable = false },
    message_has = { "run.jobs.runWithOverrides", "roles/run.jobsExecutorWithOverrides", "CLOUDRUN_IDEMPOTENCY_KEY" },
    calls = { ListExecutions = 1, RunJob = 1 }, started = 0 },
  { name = "run_job with an idempotency window but no key", via = { "call", "run_jobs" }, method = "run_job",
    args = { "hello", { idempotency_window = 60 } }, expect = { raises = { "'idempotency_window' needs" } }, calls = {} },
  { name = "run_job with an idempotency key that is a number", via = { "call", "run_jobs" }, method = "run_job",
    args = { "hello", { idempotency_key = 42 } }, expect = { raises = { "'idempotency_key' must be" } }, calls = {} },
  { name = "run_job with an idempotency key and a bad option", via = { "call", "run_jobs" }, method = "run_job",
    args = { "hello", { idempotency_key = "k", colour = "red" } }, expect = { raises = { "colour" } }, calls = {} },
}

-- A deadline bounds the whole exchange, however slowly the answer comes (cr-hostile's drip modes:
-- nginx's read timeout alone restarts with every byte).
for _, drip in ipairs({ { "drip", "body" }, { "drip-head", "headers" } }) do
  M.cases[#M.cases + 1] = { name = "run_job whose answer's " .. drip[2] .. " drip a byte a second",
    via = { "call", "run_jobs" }, method = "run_job", args = { drip[1] }, server = "hostile", client = { timeout = 2 },
    expect = { code = "DEADLINE_EXCEEDED", retryable = true, sent = true }, calls = 1, within = 2.5 }
end

-- Malformed answers (cr-hostile's raw modes): nil, err on every driver, never a raised error.
for _, bad in ipairs({
  { "badchunk", "a chunk size of -1" }, { "hugechunk", "a chunk size of 24 hex digits" },
  { "garbagechunk", "a chunk size that is not hex" }, { "chunknocrlf", "a chunk without its CRLF" },
  { "liar", "a Content-Length longer than the body" }, { "nanlength", "a Content-Length that is not a number" },
  { "neglength", "a negative Content-Length" }, { "nocolon", "a header line without a colon" },
}) do
  M.cases[#M.cases + 1] = { name = "run_job answered with " .. bad[2], via = { "call", "run_jobs" },
    method = "run_job", args = { bad[1] }, server = "hostile",
    expect = { code = "UNAVAILABLE", retryable = true, sent = true }, calls = 1 }
end
for _, big in ipairs({ { "longheader", "a header line of 70 KB" }, { "manyheaders", "10,000 header lines" } }) do
  M.cases[#M.cases + 1] = { name = "run_job answered with " .. big[2], via = { "call", "run_jobs" },
    method = "run_job", args = { big[1] }, server = "hostile",
    expect = { code = "RESOURCE_EXHAUSTED", retryable = true, sent = true }, calls = 1 }
end
M.cases[#M.cases + 1] = { name = "run_jobs of 3 whose entry 2 is answered with a chunk size of -1",
  via = { "run_jobs" }, server = "hostile", list = { { job = "nosuch" }, { job = "badchunk" }, { job = "nosuch" } },
  expect = { results = { "NOT_FOUND", "UNAVAILABLE", "NOT_FOUND" }, failed = 3 }, calls = 3 }

local by_name = {}
for _, c in ipairs(M.cases) do
  assert(not by_name[c.name], c.name)
  by_name[c.name] = c
end
M.by_name = by_name

-- ---- writing outcomes down ------------------------------------------------------

-- Values that differ from one call to the next: named by their key, or (names
-- with a generated id) with the id cut off.
local VOLATILE = { uid = true, etag = true, createTime = true, updateTime = true, lastTransitionTime = true,
  startTime = true, completionTime = true, logUri = true }

local function scalar(k, v)
  local t = type(v)
  if t == "string" then
    if VOLATILE[k] then return "<" .. k .. ">" end
    v = v:gsub("/executions/([%w-]-)%-[%w]+$", "/executions/%1-<id>"):gsub("/operations/[%x-]+$", "/operations/<id>")
      :gsub("%-%d+%.%d%d%d%d%d%d%-%d+$", "-<run>") -- a unique_key's suffix
    return '"' .. v:gsub('[%c"\\]', function(ch) return ("\\%03d"):format(ch:byte()) end) .. '"'
  elseif t == "number" then
    return (math.type and math.type(v) or "number") .. ":" .. ("%.17g"):format(v)
  end
  return tostring(v)
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) ~= type(b) then return type(a) < type(b) end
    return a < b
  end)
  return keys
end

--- A table as text, keys sorted, `#` of each table, the values that change
--- from call to call masked: equal across processes when the tables are deep-equal.
local function canon(v, k)
  if type(v) ~= "table" then return scalar(k, v) end
  local parts = {}
  for _, key in ipairs(sorted_keys(v)) do
    parts[#parts + 1] = tostring(key) .. "=" .. canon(v[key], key)
  end
  return "#" .. #v .. "{" .. table.concat(parts, ",") .. "}"
end
M.canon = canon

--- The keys in the order `pairs` gives them, all the way down: comparable
--- only within one Lua state (the order depends on its string hash seed).
local function order(v)
  if type(v) ~= "table" then return "" end
  local parts = {}
  for k, x in pairs(v) do parts[#parts + 1] = tostring(k) .. order(x) end
  return "#" .. #v .. "(" .. table.concat(parts, ",") .. ")"
end
M.order = order

local function is_error(cloudrun, v)
  return cloudrun.is_error(v)
end

-- One result: {ok=, value=, order=} or the err's fields.
local function result_outcome(cloudrun, case, r, err)
  if r ~= nil and not is_error(cloudrun, r) then
    return { ok = true, value = canon(r), order = order(r) }
  end
  err = r or err
  if type(err) ~= "table" then return { bad = "no result and no err table: " .. tostring(err) } end
  local o = { code = err.code, status = err.status, retryable = err.retryable, message = err.message,
              is_error = is_error(cloudrun, err) }
  if case.expect.sent ~= nil then o.sent = err.sent end
  if case.secret then o.leaked = tostring(err):find(case.secret, 1, true) ~= nil end
  return o
end

-- A case's arguments, its idempotency key made its own for this run (the same
-- case runs on every driver against one emulator).
local runs = 0
local function fresh_args(case)
  if not case.unique_key then return case.args end
  runs = runs + 1
  local opts = copy(case.args[2])
  opts.idempotency_key = ("%s-%.6f-%d"):format(opts.idempotency_key, require("cloudrun.core").time(), runs)
  return { case.args[1], opts }
end

-- The list a case's run_jobs form runs.
local function jobs_list(case, args)
  if case.list then return case.list end
  args = args or case.args
  local entry = copy(args[2])
  entry.job = args[1]
  return { entry }
end

local function pause(seconds)
  if seconds <= 0 then return end
  if ngx then ngx.sleep(seconds) else require("cloudrun.core").sleep(seconds) end
end

local function unpack_args(args)
  return (table.unpack or unpack)(args)
end

--- The client a case runs on: ctx = {endpoint=, credentials= (a key file)}.
function M.client(cloudrun, case, ctx)
  local opts = { project = "test-project", region = "us-central1", endpoint = ctx.endpoint,
                 credentials = ctx.credentials or false, retry = FAST, timeout = 5 }
  for k, v in pairs(case.client or {}) do opts[k] = v end
  local c, err = cloudrun.client(opts)
  if not c and case.refused_at_load then
    assert(tostring(err):find('field "quota_project_id"', 1, true), tostring(err))
    return { refused = err }
  end
  return assert(c, err)
end

--- Runs case `name` in the form `via` ("call" or "run_jobs") on client `c`
--- (whose driver is whatever this Lua state gives it). Returns a plain table:
---   {raised = message}
---   the call form: result_outcome (above)
---   the run_jobs form: {n = #list, failed =, entries = {result_outcome or "hole", ...}}
function M.run(cloudrun, name, via, c)
  local case = assert(by_name[name], "no case named " .. tostring(name))
  if c.refused then -- no client: its credentials were refused when it was made
    local o = result_outcome(cloudrun, case, nil, c.refused)
    if via == "call" then return o end
    return { n = 1, failed = 1, entries = { o } }
  end
  local args = fresh_args(case)
  if via == "call" then
    if case.twice then
      local ok, r = pcall(c[case.method], c, unpack_args(args))
      if not ok then return { raised = tostring(r) } end
      pause(case.twice)
    end
    local ok, r, err = pcall(c[case.method], c, unpack_args(args))
    if not ok then return { raised = tostring(r) } end
    return result_outcome(cloudrun, case, r, err)
  end
  local list = jobs_list(case, args)
  local run_opts = { in_flight = case.in_flight, retry = case.run_retry or FAST, per_minute = case.per_minute }
  if case.twice then
    local ok, results = pcall(c.run_jobs, c, list, run_opts)
    if not ok then return { raised = tostring(results) } end
    pause(case.twice)
  end
  local ok, results, failed = pcall(c.run_jobs, c, list, run_opts)
  if not ok then return { raised = tostring(results) } end
  if type(results) ~= "table" then
    return { bad = "run_jobs returned " .. tostring(results) .. ", " .. tostring(failed) }
  end
  local o = { n = #list, failed = failed, entries = {} }
  for i = 1, #list do
    o.entries[i] = results[i] == nil and "hole" or result_outcome(cloudrun, case, results[i])
  end
  return o
end

--- The same case through the core's own libcurl driver in this Lua state (a
--- client of cloudrun.core, which blocks even inside nginx): the reference a
--- driver's tables are held to, pairs order included.
function M.run_libcurl(cloudrun, name, via, ctx)
  local case = assert(by_name[name], "no case named " .. tostring(name))
  local core = require("cloudrun.core")
  local c = assert(core.client{ project = "test-project", region = "us-central1", endpoint = ctx.endpoint,
                                credentials = false, retry = FAST, timeout = 5 })
  if via == "call" then
    return result_outcome(cloudrun, case, c[case.method](c, unpack_args(case.args)))
  end
  local results = c:run_jobs(jobs_list(case), { retry = FAST })
  return result_outcome(cloudrun, case, results[1])
end

return M
