--- cloudrun.auth — credentials on their own: the ADC chain, key files, the
-- metadata server, fixed tokens. Every object made from the same source shares
-- one token cache with every client in the process (the C core owns it).
local core = require("cloudrun.core")

local type, error, setmetatable, tostring = type, error, setmetatable, tostring

local _M = {}

local Credentials = {}
Credentials.__index = Credentials
_M.Credentials = Credentials

local function wrap(handle, err)
  if not handle then return nil, err end
  return setmetatable({ _handle = handle }, Credentials)
end

--- cloudrun.auth.default() -> creds | nil, err (the Application Default Credentials chain)
function _M.default()
  return wrap(core.credentials_default())
end

--- cloudrun.auth.from_file(path) -> creds | nil, err
function _M.from_file(path)
  if type(path) ~= "string" then
    error("bad argument #1 to 'from_file' (path expected, got " .. type(path) .. ")", 2)
  end
  return wrap(core.credentials_file(path))
end

--- cloudrun.auth.from_json(text_or_table [, origin]) -> creds | nil, err
function _M.from_json(value, origin)
  if type(value) ~= "string" and type(value) ~= "table" then
    error("bad argument #1 to 'from_json' (JSON text or decoded key table expected, got " .. type(value) .. ")", 2)
  end
  return wrap(core.credentials_json(value, origin))
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
  return self._handle:token()
end

--- creds:info() -> {type=, account=, project=, origin=} (never a secret)
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
