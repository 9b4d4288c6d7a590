--- The original story as an nginx endpoint: a web view triggers a Cloud Run
-- job for a record, and answers at once with the execution it started — once:
-- the same record asked for again within a few minutes (a double click, a
-- retried webhook) answers with that same execution.
-- Calls run on nginx's cosockets (the worker serves other requests while a
-- trigger is in flight); the token is shared by every worker through
-- `lua_shared_dict cloudrun` (see nginx.conf).
local cloudrun = require("cloudrun")

local ngx = ngx
local _M = {}

-- One client per worker, made at its first request; project, region and
-- endpoint come from the environment nginx passes through (`env` directives).
local client

local function get_client()
  if not client then
    local err
    client, err = cloudrun.client{ shared_dict = "cloudrun" }
    if not client then return nil, err end
  end
  return client
end

local function reply(status, value)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cloudrun.json.encode(value))
  return ngx.exit(status)
end

-- An API error as an HTTP answer: the API's own status when there was one.
local function failed(err)
  local status = err.status and err.status >= 400 and err.status or 502
  if err.code == "INVALID_ARGUMENT" then status = 400 end
  return reply(status, { error = { code = err.code, message = err.message } })
end

local function trigger(job, overrides)
  local c, err = get_client()
  if not c then return failed(err) end
  local op
  op, err = c:run_job(job, overrides)
  if not op then return failed(err) end
  if op.deduplicated and not op.recovered then -- started before, by an earlier request with the same key
    return reply(200, { execution = op.execution, deduplicated = true })
  end
  return reply(202, { execution = op.execution })
end

-- How long a record's trigger stands: a request for the same record within it
-- is answered with the execution already started, after it the record runs again.
local SAME_RECORD_WINDOW = 600

--- GET /job/<id>: runs `job` with args `manage.py job --id=<id>`, at most
-- once per id within SAME_RECORD_WINDOW: its idempotency key "job-<id>" goes
-- with the execution (env CLOUDRUN_IDEMPOTENCY_KEY), and a request that finds
-- it answers 200 with that execution instead of 202 with a new one. With
-- `lua_shared_dict cloudrun`, requests for one id in any worker wait for each
-- other, so a double click starts one execution.
-- Beware: a GET that starts work can be started by anyone who makes a browser
-- fetch the URL (link prefetchers, crawlers, an <img> on another site).
-- Prefer the POST below, behind authentication; this one is the story as told.
function _M.job(job, id)
  if not tostring(id):match("^%d+$") then
    return reply(400, { error = { code = "INVALID_ARGUMENT", message = "the id must be digits" } })
  end
  return trigger(job, { args = { "manage.py", "job", "--id=" .. id },
                        idempotency_key = "job-" .. id, idempotency_window = SAME_RECORD_WINDOW })
end

-- The overrides a POST may carry, and their types.
local allowed = { args = "table", env = "table", task_count = "number", timeout = "number" }

--- POST /jobs/<job>:run with a JSON body of overrides:
-- {"args": ["manage.py", "job", "--id=42"], "env": {"ID": "42"}, "task_count": 2, "timeout": 600}
function _M.run(job)
  ngx.req.read_body()
  local body = ngx.req.get_body_data() or "{}"
  local ok, overrides = pcall(cloudrun.json.decode, body)
  if not ok or type(overrides) ~= "table" then
    return reply(400, { error = { code = "INVALID_ARGUMENT", message = "the body must be a JSON object" } })
  end
  for k, v in pairs(overrides) do
    if allowed[k] == nil or type(v) ~= allowed[k] then
      return reply(400, { error = { code = "INVALID_ARGUMENT",
        message = "unknown or mistyped field '" .. tostring(k) .. "' (args, env, task_count, timeout)" } })
    end
  end
  local call_ok, err = pcall(trigger, job, overrides)
  if not call_ok then -- a wrong argument deep inside (an env value that is a table, ...)
    return reply(400, { error = { code = "INVALID_ARGUMENT", message = tostring(err) } })
  end
end

return _M
