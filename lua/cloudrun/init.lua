--- cloudrun — drive Google Cloud Run Jobs from Lua.
-- The public face: options, the client object, waiting. Tokens, HTTP and the
-- REST protocol live in the C core (cloudrun.core).
local core = require("cloudrun.core")
local auth = require("cloudrun.auth")
local wait = require("cloudrun.wait")

local type, error, setmetatable, pairs, tostring, select = type, error, setmetatable, pairs, tostring, select

local _M = { _VERSION = core._VERSION, auth = auth, core = core }

local Client = {}
Client.__index = Client
_M.Client = Client

local client_options = {
  project = "string", region = "string", endpoint = "string",
  timeout = "number", credentials = "any",
}

local function check_options(fn, opts, known)
  for k, v in pairs(opts) do
    local want = known[k]
    if not want then
      error(fn .. ": unknown option '" .. tostring(k) .. "'", 3)
    end
    if want ~= "any" and type(v) ~= want then
      error(fn .. ": option '" .. k .. "' must be a " .. want .. " (got " .. type(v) .. ")", 3)
    end
  end
end

--- cloudrun.client{project=, region=, credentials=, endpoint=, timeout=}
-- Returns a client, or nil, err when the credentials given cannot be loaded.
function _M.client(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    error("bad argument #1 to 'client' (table expected, got " .. type(opts) .. ")", 2)
  end
  check_options("client", opts, client_options)
  if opts.timeout ~= nil and opts.timeout <= 0 then
    error("client: option 'timeout' must be a positive number of seconds", 2)
  end
  local handle, err
  local creds = opts.credentials
  if creds == false then
    handle = false
  elseif creds ~= nil then
    handle, err = auth.handle(creds)
    if handle == nil then
      if err == nil then
        error("client: option 'credentials' must be a path, a decoded key table, a cloudrun.auth object or false", 2)
      end
      return nil, err
    end
  end
  local c, cerr = core.client{
    project = opts.project, region = opts.region, endpoint = opts.endpoint,
    timeout = opts.timeout, credentials = handle,
  }
  if not c then return nil, cerr end
  return setmetatable({ _core = c, _credentials = creds }, Client)
end

local function check_name(fn, value, argn, what)
  if type(value) ~= "string" or value == "" then
    error("bad argument #" .. argn .. " to '" .. fn .. "' (" .. what .. " name expected, got "
      .. (value == "" and "an empty string" or type(value)) .. ")", 3)
  end
end

--- client:run_job(job, opts) -> Operation (with .execution) | nil, err
function Client:run_job(job, opts)
  check_name("run_job", job, 1, "job")
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #2 to 'run_job' (table of options expected, got " .. type(opts) .. ")", 2)
  end
  return self._core:run_job(job, opts)
end

--- client:get_execution(name) -> Execution | nil, err
function Client:get_execution(name)
  check_name("get_execution", name, 1, "execution")
  return self._core:get_execution(name)
end

--- client:get_operation(name) -> Operation | nil, err
function Client:get_operation(name)
  if type(name) == "table" and type(name.name) == "string" then name = name.name end
  check_name("get_operation", name, 1, "operation")
  return self._core:get_operation(name)
end

--- client:wait(op_or_execution, {timeout=, on_progress=, interval=, max_interval=})
-- -> the final Execution (succeeded, failed or cancelled) | nil, err
function Client:wait(target, opts)
  return wait.execution(self, target, opts)
end

--- The full resource name for a short job or execution id.
function Client:job_name(job)
  check_name("job_name", job, 1, "job")
  return self._core:job_name(job)
end

function Client:execution_name(execution)
  check_name("execution_name", execution, 1, "execution")
  return self._core:execution_name(execution)
end

--- Where requests go, and whether credentials are left out (emulator mode).
function Client:endpoint()
  return self._core:endpoint()
end

function Client:close()
  self._core:close()
end
Client.__close = Client.close

--- cloudrun.error(code, message [, status]) — an error value like the ones calls return.
function _M.error(code, message, status, ...)
  return core.error(code, message, status, ...)
end

_M.json = { encode = core.json_encode, decode = core.json_decode }

-- Nothing else may sneak in: a typo such as cloudrun.clinet is an error.
return setmetatable(_M, {
  __index = function(_, k)
    error("cloudrun has no field '" .. tostring(k) .. "'", 2)
  end,
})
