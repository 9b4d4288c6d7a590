-- Benchmark: what credentials cost. Against cr-fake-google on loopback
-- (FAKE_GOOGLE=host:port, KEY_DIR with key.pem), prints side by side:
--   time to the first token, per source (a fresh credential each run)
--   a cached token lookup (creds:token() once the token is in the cache)
-- and the ratio first/cached.
--   cloudrun-lua bench/auth.lua   (started by bench/run.sh)
local cloudrun = require("cloudrun")
local core = require("cloudrun.core")

local FAKE = assert(os.getenv("FAKE_GOOGLE"), "FAKE_GOOGLE=host:port")
local KEY_DIR = assert(os.getenv("KEY_DIR"))
local N = tonumber(arg[1]) or 20000

local function read(path)
  local f = assert(io.open(path))
  local s = f:read("a")
  f:close()
  return s
end
local pem = read(KEY_DIR .. "/key.pem")

local n = 0
-- every source gets a new identity per run, so that the process-wide cache cannot serve it
local sources = {
  { "service_account (JWT-bearer exchange)", function()
    n = n + 1
    return cloudrun.auth.from_json{ type = "service_account", private_key = pem, private_key_id = "k",
      client_email = "bench" .. n .. "@p.iam.gserviceaccount.com", token_uri = "http://" .. FAKE .. "/token" }
  end },
  { "service_account (self-signed JWT)", function()
    n = n + 1
    return cloudrun.auth.from_json({ type = "service_account", private_key = pem, private_key_id = "k",
      client_email = "self" .. n .. "@p.iam.gserviceaccount.com", token_uri = "http://" .. FAKE .. "/token" },
      nil, { self_signed_jwt = true })
  end },
  { "authorized_user (refresh token)", function()
    n = n + 1
    return cloudrun.auth.from_json{ type = "authorized_user", client_id = "test-client", client_secret = "test-secret",
      refresh_token = "test-refresh", token_uri = "http://" .. FAKE .. "/token", quota_project_id = "q" .. n }
  end },
  { "metadata server", function()
    return cloudrun.auth.metadata(FAKE)
  end },
}

print(("%-40s %16s %16s %10s"):format("source", "first token (us)", "cached (ns/call)", "ratio"))
for _, s in ipairs(sources) do
  local ok, creds = pcall(s[2])
  if not ok or not creds then
    print(("%-40s %16s"):format(s[1], "n/a: " .. tostring(creds)))
  else
    local t0 = core.monotonic()
    local token, err = creds:token()
    local first = (core.monotonic() - t0) * 1e6
    if not token then
      print(("%-40s %16s"):format(s[1], "failed: " .. tostring(err)))
    else
      t0 = core.monotonic()
      for _ = 1, N do creds:token() end
      local cached = (core.monotonic() - t0) / N * 1e9
      print(("%-40s %16.1f %16.1f %10.0f"):format(s[1], first, cached, first * 1e3 / cached))
    end
  end
end
