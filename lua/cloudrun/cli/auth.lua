--- cloudrun auth print-access-token|describe — the ADC chain's answer, for
-- scripts and for diagnosing which credentials are in use (never a secret
-- in `describe`).
local cloudrun = require("cloudrun")
local common = require("cloudrun.cli.common")

local os, tostring = os, tostring
local api_failure = common.api_failure

local _M = {}

local function print_access_token()
  local creds, err = cloudrun.auth.default()
  if not creds then return api_failure(err) end
  local token
  token, err = creds:token()
  if not token then return api_failure(err) end
  common.stdout_write(token, "\n")
  return common.OK
end

--- What the chain found, and whether it yields a token: when the token fetch
-- fails, everything known about the credentials is still shown, the error
-- goes to stderr and the exit status is 3.
local function describe(ctx)
  local creds, err = cloudrun.auth.default()
  if not creds then return api_failure(err) end
  local token, expires_at = creds:token()
  if not token then err, expires_at = expires_at, nil end
  local info = creds:info()
  info.token = token and "valid" or "unavailable"
  info.expires_at = expires_at
  info.expires = expires_at and os.date("!%Y-%m-%dT%H:%M:%SZ", expires_at) or nil
  info.error = err and tostring(err) or nil
  if ctx.flags.format then
    common.print(ctx.flags, info)
  else
    common.fields{
      { "Type", info.type }, { "Source", info.origin }, { "Account", info.account },
      { "Project", info.project }, { "Quota project", info.quota_project },
      { "Token", info.token }, { "Expires", info.expires },
    }
  end
  if err then return api_failure(err) end
  return common.OK
end

_M.commands = {
  {
    path = { "auth", "print-access-token" }, run = print_access_token,
    summary = "Print an access token from the credentials in use, for scripts.",
  },
  {
    path = { "auth", "describe" }, run = describe,
    summary = "Show which credentials the chain picked (type, source, account, project, token expiry; "
      .. "never the token).",
  },
}

return _M
