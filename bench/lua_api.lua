-- (c) our Lua API on a warm client: client:run_job N times with the
-- overrides every path sends (args --id=42, env ID=42) and a fixed access
-- token, against the stand-in. Prints one JSON line: wall and this process's
-- CPU (os.clock) per call, after one call to open the connection, and the
-- process's peak RSS.
--   cloudrun-lua bench/lua_api.lua ENDPOINT TOKEN N
local cloudrun = require("cloudrun")
local core = require("cloudrun.core")

local endpoint, token, n = arg[1], arg[2], tonumber(arg[3])
assert(endpoint and token and n, "usage: cloudrun-lua bench/lua_api.lua ENDPOINT TOKEN N")

-- VmHWM: the peak resident set, kB
local function peak_rss_kb()
  local f = io.open("/proc/self/status")
  if not f then return 0 end
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmHWM:%s*(%d+)")) or 0
end

local client = assert(cloudrun.client{ project = "bench", region = "local", endpoint = endpoint,
  credentials = cloudrun.auth.access_token(token) })
local opts = { args = { "--id=42" }, env = { ID = "42" } }
assert(client:run_job("noop", opts))

local c0, t0 = os.clock(), core.monotonic()
for _ = 1, n do
  assert(client:run_job("noop", opts))
end
local wall, cpu = core.monotonic() - t0, os.clock() - c0
print(('{"n":%d,"wall_us":%.2f,"cpu_us":%.2f,"rss_kb":%d}'):format(n, wall / n * 1e6, cpu / n * 1e6, peak_rss_kb()))
