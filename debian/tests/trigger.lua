-- Runs the emulator's "smoke" job once from whatever Lua runs this file, the
-- way a user's script would: require("cloudrun"), run_job with an args and an
-- env override, wait for the execution. Prints where cloudrun/core.so was
-- found (so a caller can check it came from where the package put it).
--   LUA trigger.lua HOST:PORT NAME
local host, name = arg[1], arg[2]
assert(host and name, "usage: trigger.lua HOST:PORT NAME")

local cloudrun = require("cloudrun")

-- Where require found a C module: built in (package.preload: cloudrun-lua), or the
-- first file along package.cpath (package.searchpath is not in Lua 5.1).
local function found(module)
  if package.preload[module] then return "built in" end
  for template in package.cpath:gmatch("[^;]+") do
    local path = template:gsub("%?", (module:gsub("%.", "/")))
    local f = io.open(path)
    if f then f:close() return path end
  end
  return "(not on package.cpath)"
end

local client = assert(cloudrun.client{ project = "smoke-project", region = "us-central1",
                                        endpoint = "http://" .. host, credentials = false })
local op = assert(client:run_job("smoke", { args = { name }, env = { SMOKE = "ok" } }))
local execution = assert(client:wait(op, { timeout = 60 }))
if execution.succeededCount ~= 1 then
  error(("%s: %s: succeededCount %s, failedCount %s"):format(name, op.execution,
    tostring(execution.succeededCount), tostring(execution.failedCount)))
end
print(("%s: %s succeeded (lua-cloudrun %s, %s)"):format(name, op.execution:match("[^/]+$"),
  tostring(cloudrun._VERSION), found("cloudrun.core")))
