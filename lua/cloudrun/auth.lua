--- cloudrun.auth — credentials on their own: the ADC chain, key files, the
-- metadata server, fixed tokens. Every object made from the same source shares
-- one token cache with every client in the process (the C core owns it).
local core = require("cloudrun.core")

local type, error, setmetatable, tostring, pcall = type, error, setmetatable, tostring, pcall

-- Inside nginx, what needs the wire runs on cosockets (cloudrun.ngx).
local ngx_driver
local function nginx()
  if ngx_driver == nil then
    -- without nginx's ngx table there is no driver to load (and no loading it for nothing)
    local ok, d = false, nil
    if type(rawget(_G, "ngx")) == "table" then ok, d = pcall(require, "cloudrun.ngx") end
    ngx_driver = ok and d.available() and d or false
  end
  return ngx_driver
end

local _M = {}
_M._driver = nginx -- init.lua's too: one place decides where calls run

local Credentials = {}
Credentials.__index = Credentials
_M.Credentials = Credentials

local function wrap(handle, err)
  if not handle then return nil, err end
  return setmetatable({ _handle = handle }, Credentials)
end

--- cloudrun.auth.default() -> creds | nil, err (the Application Default Credentials chain)
function _M.default()
  local d = nginx()
  if d then
    -- the metadata server's probe must not block the worker
    local ok, err = d.check_phase("cloudrun.auth.default")
    if not ok then return nil, err end
    local m = core.credentials_default_machine()
    d.run(m, d.store())
    return wrap(m:credentials_result())
  end
  return wrap(core.credentials_default())
end

local function check_opts(fn, opts, argn)
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #" .. argn .. " to '" .. fn .. "' (table of options expected, got " .. type(opts) .. ")", 3)
  end
end

--- cloudrun.auth.from_file(path [, {self_signed_jwt=, audience=}]) -> creds | nil, err
-- Any credentials file type: service_account, authorized_user,
-- impersonated_service_account, external_account.
function _M.from_file(path, opts)
  if type(path) ~= "string" then
    error("bad argument #1 to 'from_file' (path expected, got " .. type(path) .. ")", 2)
  end
  check_opts("from_file", opts, 2)
  return wrap(core.credentials_file(path, opts))
end

--- cloudrun.auth.from_json(text_or_table [, origin [, opts]]) -> creds | nil, err
function _M.from_json(value, origin, opts)
  if type(value) ~= "string" and type(value) ~= "table" then
    error("bad argument #1 to 'from_json' (JSON text or decoded key table expected, got " .. type(value) .. ")", 2)
  end
  if origin ~= nil and type(origin) ~= "string" then
    error("bad argument #2 to 'from_json' (a name for messages expected, got " .. type(origin) .. ")", 2)
  end
  check_opts("from_json", opts, 3)
  return wrap(core.credentials_json(value, origin, opts))
end

--- cloudrun.auth.metadata([host]) -> creds | nil, err (GCE/Cloud Run metadata server)
function _M.metadata(host)
  if host ~= nil and type(host) ~= "string" then
    error("bad argument #1 to 'metadata' (host[:port] expected, got " .. type(host) .. ")", 2)
  end
  return wrap(core.credentials_metadata(host))
end

--- cloudrun.auth.access_token(token [, expires_at]) -> creds (a fixed token, never refreshed)
function _M.access_token(token, expires_at)
  if type(token) ~= "string" or token == "" then
    error("bad argument #1 to 'access_token' (token string expected)", 2)
  end
  return wrap(core.credentials_token(token, expires_at))
end

--- creds:token() -> token, expires_at (Unix seconds) | nil, err
function Credentials:token()
  local d = nginx()
  if d then return d.token(self._handle) end
  return self._handle:token()
end

--- creds:info() -> {type=, account=, project=, quota_project=, origin=, expires_at=} (never a secret)
function Credentials:info()
  return self._handle:info()
end

function Credentials:__tostring()
  return tostring(self._handle)
end

--- The core handle behind anything the `credentials` option accepts:
-- a Credentials object, a path, or a decoded key table. nil, err when it
-- cannot be loaded; nil, nil when the value is of the wrong type.
function _M.handle(value)
  local t = type(value)
  if t == "table" and getmetatable(value) == Credentials then
    return value._handle
  elseif t == "string" then
    return core.credentials_file(value)
  elseif t == "table" then
    return core.credentials_json(value, "credentials table")
  elseif t == "userdata" then
    return value
  end
  return nil, nil
end

return _M
