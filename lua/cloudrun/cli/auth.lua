--- cloudrun auth print-access-token|describe — the ADC chain's answer, for
-- scripts and for diagnosing which credentials are in use (never a secret
-- in `describe`).
local cloudrun = require("cloudrun")
local common = require("cloudrun.cli.common")

local io, os = io, os
local usage_error, api_failure = common.usage_error, common.api_failure

local _M = {}

function _M.print_access_token(args)
  local pos, flags = common.parse(args, 3, {})
  if not pos then return usage_error(flags) end
  if #pos ~= 0 then return usage_error("auth print-access-token takes no arguments") end
  local creds, err = cloudrun.auth.default()
  if not creds then return api_failure(err) end
  local token
  token, err = creds:token()
  if not token then return api_failure(err) end
  io.stdout:write(token, "\n")
  return common.OK
end

function _M.describe(args)
  local pos, flags = common.parse(args, 3, {})
  if not pos then return usage_error(flags) end
  if #pos ~= 0 then return usage_error("auth describe takes no arguments") end
  local creds, err = cloudrun.auth.default()
  if not creds then return api_failure(err) end
  local token, expires_at = creds:token()
  local info = creds:info()
  info.token = token and "valid" or "unavailable"
  info.expires_at = expires_at
  info.expires = expires_at and os.date("!%Y-%m-%dT%H:%M:%SZ", expires_at) or nil
  info.error = not token and tostring(expires_at) or nil
  if not token then info.expires_at, info.expires = nil, nil end
  if flags.format then common.print_json(info) else
    common.fields{
      { "Type", info.type }, { "Source", info.origin }, { "Account", info.account },
      { "Project", info.project }, { "Quota project", info.quota_project },
      { "Token", info.token }, { "Expires", info.expires }, { "Error", info.error },
    }
  end
  return token and common.OK or common.API
end

return _M
