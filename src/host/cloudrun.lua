#!/usr/bin/env lua
-- cloudrun — the command line as the LuaRocks rock installs it: the same CLI
-- as the CMake build's `cloudrun` (cloudrun.cli), run by the Lua that the rock
-- was built for (LuaRocks wraps this script with that interpreter and the
-- tree's paths). `cloudrun emulator` is not in the rock: the emulator is C code
-- that needs libmicrohttpd, and comes with the CMake build only.
if arg[1] == "emulator" then
  io.stderr:write("cloudrun: the emulator is not part of the LuaRocks install (it is C code that needs\n",
    "libmicrohttpd); build lua-cloudrun with CMake (make build) and run build/bin/cloudrun emulator\n")
  os.exit(2)
end

-- As in the C launcher: the CLI returns the exit status, and a raised error is a bug.
local ok, status = xpcall(function() return require("cloudrun.cli").main(arg) end, debug.traceback)
if not ok then
  io.stderr:write("cloudrun: internal error: ", tostring(status), "\n")
  os.exit(3)
end
os.exit(status)
