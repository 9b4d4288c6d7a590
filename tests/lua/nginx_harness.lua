-- Debian's nginx with its Lua module as a test subprocess: a config of the
-- spec's own (its `server` block, under an http block that loads the build's
-- module and the tree's Lua) in a temporary directory, one process
-- (master_process off), on a free loopback port, asked with curl. Used by
-- nginx_spec.lua and drivers_spec.lua; needs the LuaJIT build's cloudrun/core.so
-- (CMake passes CR_NGINX and CR_NGINX_MODULES there).
local h = require("helpers")

local M = {}

--- Whether this build can run nginx (the LuaJIT build sets CR_NGINX).
function M.available()
  return os.getenv("CR_NGINX") ~= nil
end

local HTTP = [[
daemon off;
%s
pid %s/nginx.pid;
error_log %s/error.log notice;
load_module %s/ndk_http_module.so;
load_module %s/ngx_http_lua_module.so;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %s/body;
  proxy_temp_path %s/proxy;
  fastcgi_temp_path %s/fastcgi;
  uwsgi_temp_path %s/uwsgi;
  scgi_temp_path %s/scgi;
  lua_package_path "%s/lua/?.lua;%s/lua/?/init.lua;%s/tests/lua/?.lua;/usr/share/lua/5.1/?.lua;;";
  lua_package_cpath "%s";
  lua_socket_log_errors off;  # a call's failures come back as its err, not as log lines
%s
  server {
    listen 127.0.0.1:%d%s;
    location = /ping { return 200 "ok\n"; }
%s
  }
}
]]

--- The whole nginx.conf for `locations` (text inside the server block) on `port`;
-- opts.http: more of the http block (lua_shared_dict ...); opts.workers: that
-- many worker processes under a master (default: one process, no master).
function M.conf(dir, port, locations, opts)
  opts = opts or {}
  local modules = assert(os.getenv("CR_NGINX_MODULES"), "CR_NGINX_MODULES: nginx's module directory")
  local src = assert(os.getenv("CLOUDRUN_SOURCE_DIR"))
  local cpath = assert(os.getenv("LUA_CPATH"), "LUA_CPATH: the build's lua/?.so")
  -- one process: the module loads and runs as in a worker, and stops cleanly
  -- (workers of a master run as root would be "nobody", who may not read a private checkout)
  local processes = opts.workers and ("master_process on;\nworker_processes %d;\nuser %s;"):format(opts.workers,
    (h.run("id -un"):gsub("%s+$", ""))) or "master_process off;"
  -- several workers: reuseport spreads the connections over them (else one may take them all)
  return HTTP:format(processes, dir, dir, modules, modules, dir, dir, dir, dir, dir, src, src, src, cpath,
    opts.http or "", port, opts.workers and " reuseport" or "", locations)
end

--- GET path with curl: the body, then a line with the HTTP status (and curl's
-- own error text when it failed), and curl's exit code.
function M.get(port, path, max_time)
  return h.run(("curl -sS -m %d -w '\\n%%{http_code}' %s 2>&1"):format(max_time or 60,
    h.sh_quote("http://127.0.0.1:" .. port .. path)))
end

--- Starts nginx with `locations` (a string, or a function(port) -> string) on a
-- free loopback port (random ones are tried until one binds); opts as M.conf's.
-- Returns {pid=, pipe=, port=, dir=, stop=function, log=function}.
function M.start(dir, locations, opts)
  local nginx = assert(os.getenv("CR_NGINX"), "CR_NGINX: the nginx binary")
  math.randomseed(os.time() + tonumber((h.run("echo $$"))))
  for _ = 1, 10 do
    local port = math.random(20000, 59999)
    local text = type(locations) == "function" and locations(port) or locations
    h.write(dir .. "/nginx.conf", M.conf(dir, port, text, opts))
    local p = assert(io.popen(("echo $$; exec %s -p %s/ -c %s/nginx.conf -e %s/error.log >%s/stdout 2>&1"):format(
      nginx, dir, dir, dir, dir)))
    local pid = p:read("*l")
    for _ = 1, 100 do
      local out = M.get(port, "/ping")
      if out == "ok\n\n200" then
        local n = { pid = pid, pipe = p, port = port, dir = dir }
        function n.stop() h.stop(pid, p) end
        function n.log() return h.read(dir .. "/error.log") or "" end
        return n
      end
      if not h.run("kill -0 " .. pid .. " 2>/dev/null && echo alive"):find("alive") then break end
      os.execute("sleep 0.05")
    end
    h.stop(pid, p)
    local log = h.read(dir .. "/error.log") or ""
    if not log:find("Address already in use", 1, true) then
      error("nginx did not start:\n" .. log .. (h.read(dir .. "/stdout") or ""))
    end
  end
  error("nginx found no free port")
end

return M
