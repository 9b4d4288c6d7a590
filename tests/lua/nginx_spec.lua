-- require("cloudrun") inside Debian's nginx with its Lua module (OpenResty's
-- LuaJIT branch), against the emulator on loopback: nginx runs as a
-- subprocess with a config of its own in a temporary directory, and curl asks
-- it. What this shows is that the module loads and works there (on cosockets;
-- openresty_spec.lua shows that they do not block the worker, and the rest).
-- Needs the LuaJIT build's cloudrun/core.so: CMake registers it in that build.
local h = require("helpers")

local NGINX = assert(os.getenv("CR_NGINX"), "CR_NGINX: the nginx binary")
local MODULES = assert(os.getenv("CR_NGINX_MODULES"), "CR_NGINX_MODULES: nginx's module directory")
local SRC = assert(os.getenv("CLOUDRUN_SOURCE_DIR"))
local CPATH = assert(os.getenv("LUA_CPATH"), "LUA_CPATH: the build's lua/?.so")

local CONF = [[
daemon off;
master_process off;  # one process: the module loads and runs as in a worker, and stops cleanly
pid %s/nginx.pid;
error_log %s/error.log notice;
load_module %s/ndk_http_module.so;
load_module %s/ngx_http_lua_module.so;
events { worker_connections 16; }
http {
  access_log off;
  client_body_temp_path %s/body;
  proxy_temp_path %s/proxy;
  fastcgi_temp_path %s/fastcgi;
  uwsgi_temp_path %s/uwsgi;
  scgi_temp_path %s/scgi;
  lua_package_path "%s/lua/?.lua;%s/lua/?/init.lua;/usr/share/lua/5.1/?.lua;;";
  lua_package_cpath "%s";
  lua_socket_log_errors off;  # a call's failures come back as its err, not as log lines
  server {
    listen 127.0.0.1:%d;
    location = /ping { return 200 "ok\n"; }
    location = /job {
      content_by_lua_block {
        local cloudrun = require("cloudrun")
        local client = assert(cloudrun.client{ project = "test-project", region = "us-central1",
                                               endpoint = "http://%s", credentials = false })
        local job, err = client:get_job("hello")
        if not job then ngx.status = 502 ngx.say(tostring(err)) return end
        ngx.say(job.name, " | ", jit.version, " | ngx_lua ", ngx.config.ngx_lua_version)
      }
    }
    location = /run {
      content_by_lua_block {
        local client = assert(require("cloudrun").client{ project = "test-project", region = "us-central1",
                                                          endpoint = "http://%s", credentials = false })
        local op, err = client:run_job("hello", { args = { "from-nginx" } })
        if not op then ngx.status = 502 ngx.say(tostring(err)) return end
        local e, werr = client:wait(op, { timeout = 30 })  -- waits with ngx.sleep between polls
        if not e then ngx.status = 502 ngx.say(tostring(werr)) return end
        ngx.say("succeeded ", e.succeededCount)
      }
    }
    location = /unreachable {
      content_by_lua_block {
        local client = assert(require("cloudrun").client{ project = "p", region = "r",
                                                          endpoint = "http://127.0.0.1:9", credentials = false })
        local op, err = client:run_job("j", { retry = { attempts = 1 } })
        ngx.say(err.code)
      }
    }
  }
}
]]

local function get(port, path)
  return h.run(("curl -sS -m 60 -w '\\n%%{http_code}' http://127.0.0.1:%d%s 2>&1"):format(port, path))
end

--- Starts nginx on a free loopback port (random ones are tried until one binds).
local function start_nginx(dir, emu_host)
  math.randomseed(os.time() + tonumber((h.run("echo $$"))))
  for _ = 1, 10 do
    local port = math.random(20000, 59999)
    h.write(dir .. "/nginx.conf", CONF:format(dir, dir, MODULES, MODULES, dir, dir, dir, dir, dir, SRC, SRC,
      CPATH, port, emu_host, emu_host))
    local p = assert(io.popen(("echo $$; exec %s -p %s/ -c %s/nginx.conf -e %s/error.log >%s/stdout 2>&1"):format(
      NGINX, dir, dir, dir, dir)))
    local pid = p:read("*l")
    for _ = 1, 100 do
      local out = get(port, "/ping")
      if out == "ok\n\n200" then return { pid = pid, pipe = p, port = port } end
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

describe("require('cloudrun') inside nginx (libnginx-mod-http-lua)", function()
  local emu, dir, nginx

  setup(function()
    emu = h.emulator{ jobs = { h.sh_job("hello", 'echo "hello $*"') } }
    dir = h.tmpdir()
    nginx = start_nginx(dir, emu.host)
  end)

  teardown(function()
    if nginx then h.stop(nginx.pid, nginx.pipe) end
    if emu then emu.stop() end
    if dir then os.execute("rm -rf " .. h.sh_quote(dir)) end
  end)

  it("loads the module into nginx's LuaJIT and gets a job from the emulator", function()
    local out = get(nginx.port, "/job")
    assert.matches("^projects/test%-project/locations/us%-central1/jobs/hello | LuaJIT 2%.1[^\n]* | ngx_lua %d+\n\n200$", out)
  end)

  it("runs a job and waits for its execution there", function()
    local out = get(nginx.port, "/run")
    assert.are.equal("succeeded 1\n\n200", out)
  end)

  it("returns nil, err for an endpoint that does not answer", function()
    local out = get(nginx.port, "/unreachable")
    assert.are.equal("UNAVAILABLE\n\n200", out)
  end)

  it("leaves no Lua error in nginx's log", function()
    local log = h.read(dir .. "/error.log") or ""
    assert.is_nil(log:find("[error]", 1, true), log)
  end)
end)
